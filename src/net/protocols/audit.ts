/**
 * The audit protocol, `/shardfarm/audit/1.0.0`: an auditor asks a farmer to prove it still holds a
 * fragment, and checks the answer against the fragment's Merkle root (`core/merkle.ts`) without
 * downloading it. One request frame, one answer frame, each a 4-byte big-endian length and a UTF-8
 * JSON header, as in the fragment protocol (`frames.ts`); no body. Spec: `docs/protocol.md`.
 *
 *   request   { id, nonce, leaves }   id: fragment id; nonce: base64 of 16 fresh random bytes;
 *                                     leaves: 1–16 distinct leaf indices, picked at random
 *   answer    { ok: true, nonce, size, proofs: [{ index, leaf, path }] }
 *                                     nonce echoed; size of the fragment in bytes; one proof per
 *                                     requested index, in request order; leaf and each path hash
 *                                     base64; a path holds the siblings of a 16-wide tree
 *                                     (`core/merkle.ts`), up to 48 hashes for 16 MiB
 *             { ok: false, code, message }   code: NOT_FOUND, BAD_REQUEST, TOO_LARGE, BUSY, TIMEOUT, INTERNAL
 *
 * The batched form, `/shardfarm/audit-batch/1.0.0`, served by the same farmers: up to 8 challenges in
 * one stream, so an auditor with several copies on one farmer pays one stream's overhead (a libp2p
 * stream costs the auditor about 6 ms of CPU, a 16-leaf proof about 1 ms more):
 *
 *   request   { nonce, items: [{ id, leaves }] }        1–8 items, distinct ids
 *   answer    { ok: true, nonce, results: [...] }        one result per item, in request order: the
 *                                                        single answer without its nonce, proofs or
 *                                                        a refusal ({ ok: false, code, message })
 *             { ok: false, code, message }               the whole batch refused (BUSY, TIMEOUT, ...)
 *
 * This file holds the id, the limits, the frame codecs and the registration; the farmer's side is
 * `src/farmer/audit-service.ts`, the auditor's `src/client/adapters/audit-client.ts`.
 */
import { ShardfarmError } from '../../core/errors.ts'
import { isFragmentId } from '../../core/fragment-store.ts'
import { HASH_BYTES, LEAF_BYTES, maxPathLength, type LeafProof } from '../../core/merkle.ts'
import { decodeBase64 as decodeBase64Text, encodeBase64 as toBase64 } from '../../core/base64.ts'
import { FarmerError } from './fragment-errors.ts'
import type { ProtocolHost } from './fragment.ts'
import { MAX_FRAGMENT_BYTES } from './fragment-constants.ts'

/** The versioned protocol id. A wire-incompatible change gets a new major version. */
export const AUDIT_PROTOCOL = '/shardfarm/audit/1.0.0'
/** The batched audit protocol: several challenges to one farmer in one stream. */
export const AUDIT_BATCH_PROTOCOL = '/shardfarm/audit-batch/1.0.0'
/** Most challenges in one batch. */
export const MAX_AUDIT_BATCH = 8
/**
 * Most fragment bytes an auditor puts in one batch (the farmer reads and hashes them all before it
 * answers): one largest fragment's worth, so a batch costs a farmer no more time than one audit can.
 */
export const MAX_AUDIT_BATCH_BYTES = 16 * 1024 * 1024
/** Most leaves one challenge may name. */
export const MAX_CHALLENGE_LEAVES = 16
/** Leaves an auditor names by default: detection math in `docs/protocol.md`. */
export const DEFAULT_CHALLENGE_LEAVES = 16
/** Bytes of the nonce. */
export const AUDIT_NONCE_BYTES = 16
/** Largest request header: 16 indices, an id and a nonce take under 300 bytes. */
export const MAX_AUDIT_REQUEST_BYTES = 1024
/** Most hashes in one proof's path: the longest path of the largest fragment (48 for 16 MiB). */
export const MAX_PATH_HASHES = maxPathLength(MAX_FRAGMENT_BYTES)
/**
 * Largest answer header: 16 leaves of 1 KiB in base64 (21.9 KB) and 16 paths of up to 48 hashes
 * for a 16 MiB fragment (36.1 KB with the quotes and commas), 58.7 KB at most, with room to spare
 * for the JSON around them and for a wider tree.
 */
export const MAX_AUDIT_RESPONSE_BYTES = 128 * 1024
/** Largest batch request header: 8 challenges of under 300 bytes each. */
export const MAX_AUDIT_BATCH_REQUEST_BYTES = 4 * 1024
/** Largest batch answer header: 8 answers, each within the single answer's limit. */
export const MAX_AUDIT_BATCH_RESPONSE_BYTES = MAX_AUDIT_BATCH * MAX_AUDIT_RESPONSE_BYTES
/** Farmer: a stream's whole life, request to answer; past it `TIMEOUT` and a reset. */
export const AUDIT_DEADLINE_MS = 15_000
/** Auditor: the deadline of one audit, dial included. */
export const AUDIT_CLIENT_TIMEOUT_MS = 20_000
/** Farmer: concurrent audits, all peers together (`BUSY` past it). */
export const MAX_AUDITS_IN_FLIGHT = 8
/** Farmer: concurrent audits of one peer (`BUSY` past it). */
export const MAX_AUDITS_PER_PEER = 2
/** Farmer: concurrent inbound audit streams per connection; libp2p resets streams past it. */
export const MAX_AUDIT_INBOUND_STREAMS = 8

/** The codes an audit answer may carry. */
export const AUDIT_CODES = ['NOT_FOUND', 'BAD_REQUEST', 'TOO_LARGE', 'BUSY', 'TIMEOUT', 'INTERNAL'] as const
/** One refusal code of the audit protocol. */
export type AuditCode = typeof AUDIT_CODES[number]

/** A challenge. */
export interface AuditRequest {
  id: string
  /** Base64 of `AUDIT_NONCE_BYTES` random bytes. */
  nonce: string
  leaves: number[]
}

/** A batch of challenges, one nonce for all. */
export interface AuditBatchRequest {
  nonce: string
  items: Array<{ id: string, leaves: number[] }>
}

/** A successful answer, decoded. */
export interface AuditProofAnswer {
  ok: true
  nonce: string
  size: number
  proofs: LeafProof[]
}

/** A refusal. */
export interface AuditRefusal {
  ok: false
  code: string
  message: string
}

/** What a farmer answers. */
export type AuditAnswer = AuditProofAnswer | AuditRefusal

function bad (reason: string): FarmerError {
  return new FarmerError('BAD_REQUEST', `Malformed audit: ${reason}`, { reason })
}

/** Base64 of `bytes` bytes exactly, decoded; anything else throws `BAD_REQUEST`. */
function decodeBase64 (v: unknown, field: string, minBytes: number, maxBytes: number): Uint8Array {
  if (typeof v !== 'string' || v.length > Math.ceil(maxBytes / 3) * 4 || v.length % 4 !== 0) {
    throw bad(`${field} must be base64`)
  }
  const bytes = decodeBase64Text(v)
  if (bytes === undefined) throw bad(`${field} must be base64`)
  if (bytes.length < minBytes || bytes.length > maxBytes) throw bad(`${field} must be ${minBytes}–${maxBytes} bytes`)
  return bytes
}

/** Validates a decoded request header; `BAD_REQUEST` for a malformed field, `TOO_LARGE` for too many leaves. */
export function parseAuditRequest (obj: Record<string, unknown>): AuditRequest {
  decodeBase64(obj.nonce, 'nonce', AUDIT_NONCE_BYTES, AUDIT_NONCE_BYTES)
  return { id: parseId(obj.id), nonce: obj.nonce as string, leaves: parseLeaves(obj.leaves) }
}

/** Validates a decoded batch request header: 1–`MAX_AUDIT_BATCH` challenges of distinct fragments. */
export function parseAuditBatchRequest (obj: Record<string, unknown>): AuditBatchRequest {
  decodeBase64(obj.nonce, 'nonce', AUDIT_NONCE_BYTES, AUDIT_NONCE_BYTES)
  const items = obj.items
  if (!Array.isArray(items) || items.length === 0) throw bad('items must be a non-empty array')
  if (items.length > MAX_AUDIT_BATCH) {
    throw new FarmerError('TOO_LARGE', 'Too many challenges in one batch', { items: items.length, limit: MAX_AUDIT_BATCH })
  }
  const parsed = items.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) throw bad('an item must be an object')
    const o = item as Record<string, unknown>
    return { id: parseId(o.id), leaves: parseLeaves(o.leaves) }
  })
  if (new Set(parsed.map(i => i.id)).size !== parsed.length) throw bad('items must name distinct fragments')
  return { nonce: obj.nonce as string, items: parsed }
}

function parseId (id: unknown): string {
  if (!isFragmentId(id)) throw bad('id must be 64 lowercase hex characters')
  return id
}

function parseLeaves (leaves: unknown): number[] {
  if (!Array.isArray(leaves) || leaves.length === 0) throw bad('leaves must be a non-empty array')
  if (leaves.length > MAX_CHALLENGE_LEAVES) {
    throw new FarmerError('TOO_LARGE', 'Too many leaves in one challenge', { leaves: leaves.length, limit: MAX_CHALLENGE_LEAVES })
  }
  const maxIndex = MAX_FRAGMENT_BYTES / LEAF_BYTES
  for (const i of leaves) {
    if (!Number.isSafeInteger(i) || (i as number) < 0 || (i as number) >= maxIndex) throw bad('leaves must be leaf indices')
  }
  if (new Set(leaves).size !== leaves.length) throw bad('leaves must be distinct')
  return leaves as number[]
}

/** The JSON form of an answer with `proofs`. */
export function encodeProofAnswer (nonce: string, size: number, proofs: readonly LeafProof[]): Record<string, unknown> {
  return {
    ok: true,
    nonce,
    size,
    proofs: proofs.map(p => ({ index: p.index, leaf: toBase64(p.leaf), path: p.path.map(h => toBase64(h)) }))
  }
}

/**
 * Decodes an answer header. Throws (a `FarmerError`, code `BAD_REQUEST`) for any malformed field;
 * it does not check the proofs, only their shape: at most `MAX_CHALLENGE_LEAVES` proofs, leaves of
 * 1–1024 bytes, paths of at most `MAX_PATH_HASHES` hashes of 32 bytes.
 */
export function parseAuditAnswer (obj: Record<string, unknown>): AuditAnswer {
  if (obj.ok === false) {
    if (typeof obj.code !== 'string' || !/^[A-Z_]{1,32}$/.test(obj.code)) throw bad('code must be an upper-case code')
    return { ok: false, code: obj.code, message: typeof obj.message === 'string' ? obj.message.slice(0, 500) : obj.code }
  }
  if (obj.ok !== true) throw bad('ok must be a boolean')
  if (typeof obj.nonce !== 'string') throw bad('nonce must be a string')
  if (!Number.isSafeInteger(obj.size) || (obj.size as number) < 1) throw bad('size must be a positive integer')
  if (!Array.isArray(obj.proofs) || obj.proofs.length > MAX_CHALLENGE_LEAVES) throw bad('proofs must be an array of at most 16')
  const proofs = obj.proofs.map((p: unknown): LeafProof => {
    if (typeof p !== 'object' || p === null) throw bad('a proof must be an object')
    const q = p as Record<string, unknown>
    if (!Number.isSafeInteger(q.index)) throw bad('index must be an integer')
    if (!Array.isArray(q.path) || q.path.length > MAX_PATH_HASHES) throw bad(`path must be an array of at most ${MAX_PATH_HASHES} hashes`)
    return {
      index: q.index as number,
      leaf: decodeBase64(q.leaf, 'leaf', 1, LEAF_BYTES),
      path: q.path.map((h: unknown) => decodeBase64(h, 'path hash', HASH_BYTES, HASH_BYTES))
    }
  })
  return { ok: true, nonce: obj.nonce, size: obj.size as number, proofs }
}

/**
 * Decodes a batch answer header: a whole-batch refusal, or one answer per challenge (each checked
 * as `parseAuditAnswer` checks a single one, the batch's nonce standing for its own). Throws
 * `BAD_REQUEST` for a malformed field or a count of results other than `items`.
 */
export function parseAuditBatchAnswer (obj: Record<string, unknown>, items: number): AuditAnswer | { ok: true, nonce: string, results: AuditAnswer[] } {
  if (obj.ok === false) return parseAuditAnswer(obj)
  if (obj.ok !== true) throw bad('ok must be a boolean')
  if (typeof obj.nonce !== 'string') throw bad('nonce must be a string')
  if (!Array.isArray(obj.results) || obj.results.length !== items) throw bad(`results must be an array of ${items}`)
  const nonce = obj.nonce
  const results = obj.results.map((r: unknown) => {
    if (typeof r !== 'object' || r === null) throw bad('a result must be an object')
    return parseAuditAnswer({ ...r as Record<string, unknown>, nonce })
  })
  return { ok: true, nonce, results }
}

/** The refusal frame's JSON for `err`: its code when it is an audit code, else `INTERNAL`. */
export function refusalFor (err: unknown): { ok: false, code: AuditCode, message: string } {
  const code = err instanceof ShardfarmError && (AUDIT_CODES as readonly string[]).includes(err.code) ? err.code as AuditCode : 'INTERNAL'
  return { ok: false, code, message: code === 'INTERNAL' ? 'Internal error' : (err as Error).message.slice(0, 200) }
}

/** Options of `registerAuditProtocol`. */
export interface AuditProtocolInit {
  /** Concurrent inbound audit streams per connection, of each protocol. @default MAX_AUDIT_INBOUND_STREAMS (8) */
  maxInboundStreams?: number
}

/**
 * Serves the audit protocol with `handler` and the batched one with `batchHandler`; relayed
 * (limited) connections are refused, as for fragments.
 */
export async function registerAuditProtocol (
  libp2p: ProtocolHost, handler: Parameters<ProtocolHost['handle']>[1], batchHandler: Parameters<ProtocolHost['handle']>[1], init: AuditProtocolInit = {}
): Promise<void> {
  const options = { maxInboundStreams: init.maxInboundStreams ?? MAX_AUDIT_INBOUND_STREAMS, runOnLimitedConnection: false }
  await libp2p.handle(AUDIT_PROTOCOL, handler, options)
  await libp2p.handle(AUDIT_BATCH_PROTOCOL, batchHandler, options)
}

/** Stops serving both audit protocols; streams already open are the caller's to end. */
export async function unregisterAuditProtocol (libp2p: ProtocolHost): Promise<void> {
  await libp2p.unhandle(AUDIT_PROTOCOL)
  await libp2p.unhandle(AUDIT_BATCH_PROTOCOL)
}
