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
  if (!isFragmentId(obj.id)) throw bad('id must be 64 lowercase hex characters')
  decodeBase64(obj.nonce, 'nonce', AUDIT_NONCE_BYTES, AUDIT_NONCE_BYTES)
  const leaves = obj.leaves
  if (!Array.isArray(leaves) || leaves.length === 0) throw bad('leaves must be a non-empty array')
  if (leaves.length > MAX_CHALLENGE_LEAVES) {
    throw new FarmerError('TOO_LARGE', 'Too many leaves in one challenge', { leaves: leaves.length, limit: MAX_CHALLENGE_LEAVES })
  }
  const maxIndex = MAX_FRAGMENT_BYTES / LEAF_BYTES
  for (const i of leaves) {
    if (!Number.isSafeInteger(i) || (i as number) < 0 || (i as number) >= maxIndex) throw bad('leaves must be leaf indices')
  }
  if (new Set(leaves).size !== leaves.length) throw bad('leaves must be distinct')
  return { id: obj.id, nonce: obj.nonce as string, leaves: leaves as number[] }
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

/** The refusal frame's JSON for `err`: its code when it is an audit code, else `INTERNAL`. */
export function refusalFor (err: unknown): { ok: false, code: AuditCode, message: string } {
  const code = err instanceof ShardfarmError && (AUDIT_CODES as readonly string[]).includes(err.code) ? err.code as AuditCode : 'INTERNAL'
  return { ok: false, code, message: code === 'INTERNAL' ? 'Internal error' : (err as Error).message.slice(0, 200) }
}

/** Options of `registerAuditProtocol`. */
export interface AuditProtocolInit {
  /** Concurrent inbound audit streams per connection. @default MAX_AUDIT_INBOUND_STREAMS (8) */
  maxInboundStreams?: number
}

/** Serves the audit protocol with `handler`; relayed (limited) connections are refused, as for fragments. */
export async function registerAuditProtocol (
  libp2p: ProtocolHost, handler: Parameters<ProtocolHost['handle']>[1], init: AuditProtocolInit = {}
): Promise<void> {
  await libp2p.handle(AUDIT_PROTOCOL, handler, {
    maxInboundStreams: init.maxInboundStreams ?? MAX_AUDIT_INBOUND_STREAMS,
    runOnLimitedConnection: false
  })
}

/** Stops serving the audit protocol; streams already open are the caller's to end. */
export async function unregisterAuditProtocol (libp2p: ProtocolHost): Promise<void> {
  await libp2p.unhandle(AUDIT_PROTOCOL)
}
