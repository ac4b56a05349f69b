/**
 * `AuditService` answers the audit protocols (`/shardfarm/audit/1.0.0` and its batched form, `net/protocols/audit.ts`)
 * from any `FragmentStore`: it streams the challenged fragment from the store (`openRead` when the
 * store has it), hashes every leaf as the chunks pass, keeps only the challenged leaves, and answers
 * with their Merkle paths. It holds 32 bytes per KiB of fragment (512 KiB for 16 MiB) plus the
 * kept leaves, never the fragment. There is no cache of trees: a proof needs the challenged leaves'
 * bytes, so the fragment is read anyway, and re-hashing it costs less than the read (see
 * docs/protocol.md for the figures).
 *
 * Every audit costs the farmer a full read and hash of the fragment, so audits have budgets of
 * their own, per peer and farmer-wide (`BUSY` past them), apart from the fragment protocol's: a
 * peer flooding audits cannot starve other auditors, and audits cannot starve GETs.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type { FragmentStore } from '../core/fragment-store.ts'
import { leafCount, MerkleBuilder, proveLeaves } from '../core/merkle.ts'
import {
  AUDIT_DEADLINE_MS, encodeProofAnswer, MAX_AUDIT_BATCH_REQUEST_BYTES, MAX_AUDIT_BATCH_RESPONSE_BYTES, MAX_AUDIT_INBOUND_STREAMS,
  MAX_AUDIT_REQUEST_BYTES, MAX_AUDIT_RESPONSE_BYTES, MAX_AUDITS_IN_FLIGHT, MAX_AUDITS_PER_PEER, parseAuditBatchRequest, parseAuditRequest,
  refusalFor, registerAuditProtocol, unregisterAuditProtocol
} from '../net/protocols/audit.ts'
import { GET_CHUNK_BYTES, MAX_FRAGMENT_BYTES } from '../net/protocols/fragment-constants.ts'
import { FarmerError } from '../net/protocols/fragment-errors.ts'
import { encodeFrame, parseHeaderObject } from '../net/protocols/frames.ts'
import { FrameReader, sendAll, streamSource } from '../net/protocols/stream-io.ts'
import { Budget, KeyedBudget, giveAll, takeAll } from './budgets.ts'
import { FarmerMetrics } from './metrics.ts'
import type { AuditCounters } from './metrics.ts'

/** Injected dependencies. */
export interface AuditServiceComponents {
  /** The libp2p node to serve on (only `handle` and `unhandle` are used). */
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  /** Where the fragments are. */
  store: FragmentStore
  /**
   * Where the audit counters go: the farmer's own, so that its metrics endpoint shows them beside
   * the fragment protocol's. @default a `FarmerMetrics` of its own
   */
  metrics?: FarmerMetrics
}

/** Limits of `AuditService`. */
export interface AuditServiceInit {
  /** Concurrent audits, all peers together. @default MAX_AUDITS_IN_FLIGHT (8) */
  maxAuditsInFlight?: number
  /** Concurrent audits of one peer. @default MAX_AUDITS_PER_PEER (2) */
  maxAuditsPerPeer?: number
  /** Concurrent inbound audit streams per connection. @default MAX_AUDIT_INBOUND_STREAMS (8) */
  maxInboundStreams?: number
  /** Lifetime of one audit stream, request to answer. @default AUDIT_DEADLINE_MS (15 s) */
  deadlineMs?: number
  /** Largest fragment the store may hand back. @default MAX_FRAGMENT_BYTES (16 MiB) */
  maxFragmentBytes?: number
  /** Bytes per chunk read from the store. @default GET_CHUNK_BYTES (256 KiB) */
  readChunkBytes?: number
  /** Called with every error answered `INTERNAL`. @default undefined (not reported) */
  onInternalError?: (err: unknown) => void
}

/** Serves audits of one `FragmentStore`. */
export class AuditService {
  readonly #metrics: FarmerMetrics
  readonly #components: AuditServiceComponents
  readonly #perPeer: KeyedBudget
  readonly #global: Budget
  readonly #maxInboundStreams: number
  readonly #deadlineMs: number
  readonly #maxFragmentBytes: number
  readonly #chunkBytes: number
  readonly #onInternalError: ((err: unknown) => void) | undefined
  readonly #active = new Map<Stream, Promise<void>>()
  #started = false

  constructor (components: AuditServiceComponents, init: AuditServiceInit = {}) {
    this.#components = components
    this.#metrics = components.metrics ?? new FarmerMetrics()
    this.#perPeer = new KeyedBudget(init.maxAuditsPerPeer ?? MAX_AUDITS_PER_PEER)
    this.#global = new Budget(init.maxAuditsInFlight ?? MAX_AUDITS_IN_FLIGHT)
    this.#maxInboundStreams = init.maxInboundStreams ?? MAX_AUDIT_INBOUND_STREAMS
    this.#deadlineMs = init.deadlineMs ?? AUDIT_DEADLINE_MS
    this.#maxFragmentBytes = init.maxFragmentBytes ?? MAX_FRAGMENT_BYTES
    this.#chunkBytes = init.readChunkBytes ?? GET_CHUNK_BYTES
    this.#onInternalError = init.onInternalError
  }

  /** A copy of the audit counters (also in the farmer's metrics when it shares them). */
  get metrics (): AuditCounters {
    return this.#metrics.audits()
  }

  /** Registers the protocol handler. Idempotent. */
  async start (): Promise<void> {
    if (this.#started) return
    await registerAuditProtocol(this.#components.libp2p,
      (stream, connection) => { this.#accept(stream, connection, false) },
      (stream, connection) => { this.#accept(stream, connection, true) },
      { maxInboundStreams: this.#maxInboundStreams })
    this.#started = true
  }

  /** Unregisters the handler, aborts audits in flight and waits for them. Idempotent. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await unregisterAuditProtocol(this.#components.libp2p)
    for (const stream of this.#active.keys()) stream.abort(new Error('Farmer is stopping'))
    await Promise.allSettled([...this.#active.values()])
  }

  #accept (stream: Stream, connection: Connection, batch: boolean): void {
    const done = this.#serve(stream, connection.remotePeer.toString(), batch).finally(() => { this.#active.delete(stream) })
    this.#active.set(stream, done)
  }

  /**
   * One stream: a challenge, or a batch of them (proved one after another, so a batch holds one
   * audit's place in the budgets and one fragment's read at a time).
   */
  async #serve (stream: Stream, peer: string, batch: boolean): Promise<void> {
    const deadline = AbortSignal.timeout(this.#deadlineMs)
    let answer: Record<string, unknown>
    let proven = 0
    try {
      const reader = new FrameReader(streamSource(stream))
      const header = parseHeaderObject(await reader.readHeader(batch ? MAX_AUDIT_BATCH_REQUEST_BYTES : MAX_AUDIT_REQUEST_BYTES, deadline))
      const req = batch ? parseAuditBatchRequest(header) : parseAuditRequest(header)
      const budgets: Array<[KeyedBudget, string] | [Budget]> = [[this.#perPeer, peer], [this.#global]]
      const refused = takeAll(budgets, 1)
      if (refused !== -1) {
        throw new FarmerError('BUSY', refused === 0 ? 'Too many audits from this peer' : 'Too many audits in flight', { limit: refused === 0 ? this.#perPeer.limit : this.#global.limit })
      }
      try {
        if ('items' in req) {
          const results: Array<Record<string, unknown>> = []
          for (const item of req.items) {
            try {
              const { size, proofs } = await this.#prove(item.id, item.leaves, deadline)
              const { nonce: _, ...result } = encodeProofAnswer(req.nonce, size, proofs)
              results.push(result)
              proven++
            } catch (err) {
              if (deadline.aborted) throw err
              results.push(this.#refuse(err))
            }
          }
          answer = { ok: true, nonce: req.nonce, results }
        } else {
          const { size, proofs } = await this.#prove(req.id, req.leaves, deadline)
          answer = encodeProofAnswer(req.nonce, size, proofs)
          proven = 1
        }
      } finally {
        giveAll(budgets, 1)
      }
    } catch (err) {
      proven = 0
      answer = this.#refuse(deadline.aborted ? new FarmerError('TIMEOUT', 'Audit missed its deadline', { deadlineMs: this.#deadlineMs }) : err)
    }
    try {
      const frame = encodeFrame(answer, batch ? MAX_AUDIT_BATCH_RESPONSE_BYTES : MAX_AUDIT_RESPONSE_BYTES)
      await sendAll(stream, frame, deadline)
      // Counted once the proof is on its way: one the auditor never got proved nothing to it.
      for (let i = 0; i < proven; i++) this.#metrics.auditProven(Math.round(frame.byteLength / proven))
      await stream.close({ signal: deadline })
    } catch {
      stream.abort(new Error('Audit answer failed'))
    }
  }

  /** The refusal for `err`, counted (and reported when `INTERNAL`). */
  #refuse (err: unknown): ReturnType<typeof refusalFor> {
    const answer = refusalFor(err)
    this.#metrics.auditRefused(answer.code)
    if (answer.code === 'INTERNAL') this.#onInternalError?.(err)
    return answer
  }

  /** Reads the fragment through a `MerkleBuilder` that keeps the challenged leaves; returns their proofs. */
  async #prove (id: string, challenged: number[], signal: AbortSignal): Promise<{ size: number, proofs: ReturnType<typeof proveLeaves> }> {
    const { store } = this.#components
    let size: number
    let chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
    let close = async (): Promise<void> => {}
    try {
      if (store.openRead !== undefined) {
        const read = await store.openRead(id, { signal, chunkBytes: this.#chunkBytes })
        size = read.size
        chunks = read.chunks
        close = read.close
      } else {
        const bytes = await store.get(id, { signal })
        size = bytes.byteLength
        chunks = [bytes]
      }
    } catch (err) {
      throw notHeld(err)
    }
    try {
      if (size > this.#maxFragmentBytes) throw new Error(`Stored fragment of ${size} bytes is past the limit`)
      const leaves = leafCount(size)
      if (challenged.some(i => i >= leaves)) throw new FarmerError('BAD_REQUEST', 'Leaf index past the end of the fragment', { leaves })
      const builder = new MerkleBuilder(size, challenged)
      try {
        for await (const chunk of chunks) {
          signal.throwIfAborted()
          builder.update(chunk)
          this.#metrics.auditHashed(chunk.byteLength)
        }
      } catch (err) {
        throw notHeld(err)
      }
      return { size, proofs: proveLeaves(builder.finish(), challenged) }
    } finally {
      await close().catch(() => {})
    }
  }
}

/**
 * A store error while reading: an absent fragment is `NOT_FOUND`, and so is one the store found
 * corrupt (it drops it on the spot, so the farmer no longer holds it). Anything else passes.
 */
function notHeld (err: unknown): unknown {
  const name = (err as { name?: unknown } | undefined)?.name
  if (name === 'FragmentNotFoundError') return new FarmerError('NOT_FOUND', 'Fragment not held')
  if (name === 'CorruptFragmentError') return new FarmerError('NOT_FOUND', 'Fragment not held: it was corrupt and is dropped', { reason: 'corrupt' })
  return err
}
