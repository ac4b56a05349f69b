/**
 * Frames of the fragment protocol: encoding and strict validation of request and response headers.
 * A frame is a 4-byte big-endian header length, a UTF-8 JSON header object, then a raw body whose
 * length the header fixes (see `docs/protocol.md`). JSON keeps the header readable and trivially
 * portable; it is safe here because its size is capped before parsing and every field is checked.
 * Unknown fields are ignored so that a 1.x peer may add optional ones.
 */
import { DelegationError, parseDelegation, type Delegation } from '../../core/delegation.ts'
import { isFragmentId, isOwnerKey } from '../../core/fragment-store.ts'
import { toHex } from '../../core/hash.ts'
import { FarmerError } from './fragment-errors.ts'
import {
  LENGTH_PREFIX_BYTES, MAX_FRAGMENT_BYTES, MAX_HAS_IDS, MAX_HEADER_BYTES, OPS, RAW_ID_BYTES
} from './fragment-constants.ts'
import type { Op } from './fragment-constants.ts'

/** A request header, one per stream. */
export type RequestHeader =
  /** `owner` claims the fragment; `nonce` (base64 of 16 bytes) salts the possession proof of a held id. */
  /** With `delegation`, `owner` is the delegation's owner and `sig` the delegate's over `delegatedPutMessage` at `ts`. */
  | { op: 'PUT', id: string, size: number, owner: string, nonce: string, delegation?: Delegation, ts?: number, sig?: string }
  | { op: 'GET', id: string }
  | { op: 'HAS', count: number }
  /** Removes `owner`'s claim; `sig` is that owner's signature (`deleteMessage`). */
  | { op: 'DELETE', id: string, owner: string, ts: number, nonce: string, sig: string }
  | { op: 'STAT' }
  /** Renews `owner`'s claims on the `count` raw ids of the body; `sig` covers their SHA-256 (`renewMessage`). */
  /** With `delegation`, `sig` is the delegate's (`delegatedRenewMessage`) and `owner` the delegation's owner. */
  | { op: 'RENEW', owner: string, count: number, ts: number, nonce: string, sig: string, delegation?: Delegation }

/** What a farmer reports about itself (`STAT`). Sizes are bytes of fragment payload. */
export interface FarmerStat {
  capacity: number
  used: number
  free: number
  count: number
  region: string
  tier: string
  kind: string
  version: string
}

/** The success header for each operation. */
export interface OkResponses {
  /** `proof`: with `stored: false`, hex SHA-256 of the possession domain, the PUT's nonce and the held bytes. */
  PUT: { ok: true, stored: boolean, proof?: string }
  GET: { ok: true, size: number }
  HAS: { ok: true, held: string }
  DELETE: { ok: true }
  STAT: { ok: true, stat: FarmerStat }
  /** `renewed`: one digit per id, 1 when the owner's claim existed and now ends at `expiresAt`. */
  RENEW: { ok: true, renewed: string, expiresAt: number }
}

/** A refusal: one of `WIRE_CODES` (or a newer one), a human message and small details. */
export interface ErrorResponse { ok: false, code: string, message: string, details?: Record<string, unknown> }

/** A response header for operation `O`. */
export type ResponseHeader<O extends Op = Op> = OkResponses[O] | ErrorResponse

/** Limits a decoder enforces. */
export interface FrameLimits {
  /** @default MAX_HEADER_BYTES */
  maxHeaderBytes?: number
  /** @default MAX_FRAGMENT_BYTES */
  maxFragmentBytes?: number
  /** @default MAX_HAS_IDS */
  maxHasIds?: number
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const SHORT_STRING = 64

function bad (reason: string): FarmerError {
  return new FarmerError('BAD_REQUEST', `Malformed frame: ${reason}`, { reason })
}

/** Encodes `header` as one frame (length prefix + JSON). Throws `TOO_LARGE` past `maxHeaderBytes`. */
export function encodeFrame (header: object, maxHeaderBytes = MAX_HEADER_BYTES): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header))
  if (json.byteLength > maxHeaderBytes) {
    throw new FarmerError('TOO_LARGE', 'Header exceeds the frame limit', { size: json.byteLength, limit: maxHeaderBytes })
  }
  const frame = new Uint8Array(LENGTH_PREFIX_BYTES + json.byteLength)
  new DataView(frame.buffer).setUint32(0, json.byteLength)
  frame.set(json, LENGTH_PREFIX_BYTES)
  return frame
}

/**
 * Checks a header length prefix: zero is `BAD_REQUEST`, past `maxHeaderBytes` is `TOO_LARGE`, so a
 * huge prefix is refused before a single byte of it is buffered.
 */
export function checkHeaderLength (length: number, maxHeaderBytes = MAX_HEADER_BYTES): void {
  if (length === 0) throw bad('empty header')
  if (length > maxHeaderBytes) {
    throw new FarmerError('TOO_LARGE', 'Header exceeds the frame limit', { size: length, limit: maxHeaderBytes })
  }
}

/** Parses header bytes into a plain JSON object; anything else is `BAD_REQUEST`. */
export function parseHeaderObject (bytes: Uint8Array): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw bad('header is not UTF-8 JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('header is not an object')
  return value as Record<string, unknown>
}

function size (v: unknown, max: number, field: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw bad(`${field} must be a positive integer`)
  if ((v as number) > max) {
    throw new FarmerError('TOO_LARGE', `${field} exceeds the limit`, { [field]: v, limit: max })
  }
  return v as number
}

function fragmentId (v: unknown): string {
  if (!isFragmentId(v)) throw bad('id must be 64 lowercase hex characters')
  return v
}

function ownerKey (v: unknown): string {
  if (!isOwnerKey(v)) throw bad('owner must be base64 of a 32-byte Ed25519 public key')
  return v
}

/** A delegation's shape (its signatures are the farmer's to check); a malformed one is `FORBIDDEN`. */
function delegation (v: unknown): Delegation {
  try {
    return parseDelegation(v)
  } catch (err) {
    if (err instanceof DelegationError) throw new FarmerError('FORBIDDEN', err.message, { reason: 'delegation-malformed' })
    throw err
  }
}

function base64 (v: unknown, field: string, bytes: number): string {
  const chars = Math.ceil(bytes / 3) * 4
  if (typeof v !== 'string' || v.length !== chars || !BASE64.test(v)) throw bad(`${field} must be base64 of ${bytes} bytes`)
  return v
}

/** Validates a decoded request header. Every malformed field is `BAD_REQUEST`, every size past a limit `TOO_LARGE`. */
export function parseRequest (obj: Record<string, unknown>, limits: FrameLimits = {}): RequestHeader {
  switch (obj.op) {
    case 'PUT': {
      const id = fragmentId(obj.id)
      const n = size(obj.size, limits.maxFragmentBytes ?? MAX_FRAGMENT_BYTES, 'size')
      if (obj.owner === undefined) {
        throw new FarmerError('FORBIDDEN', 'PUT must name an owner key: a farmer stores only fragments someone claims',
          { reason: 'no-owner' })
      }
      const put = { op: 'PUT' as const, id, size: n, owner: ownerKey(obj.owner), nonce: base64(obj.nonce, 'nonce', 16) }
      if (obj.delegation === undefined) return put
      if (!Number.isSafeInteger(obj.ts) || (obj.ts as number) < 0) throw bad('ts must be milliseconds since the epoch')
      return { ...put, delegation: delegation(obj.delegation), ts: obj.ts as number, sig: base64(obj.sig, 'sig', 64) }
    }
    case 'GET': return { op: 'GET', id: fragmentId(obj.id) }
    case 'HAS': return { op: 'HAS', count: size(obj.count, limits.maxHasIds ?? MAX_HAS_IDS, 'count') }
    case 'DELETE': {
      if (!Number.isSafeInteger(obj.ts) || (obj.ts as number) < 0) throw bad('ts must be milliseconds since the epoch')
      return {
        op: 'DELETE',
        id: fragmentId(obj.id),
        owner: ownerKey(obj.owner),
        ts: obj.ts as number,
        nonce: base64(obj.nonce, 'nonce', 16),
        sig: base64(obj.sig, 'sig', 64)
      }
    }
    case 'STAT': return { op: 'STAT' }
    case 'RENEW': {
      const owner = ownerKey(obj.owner)
      const count = size(obj.count, limits.maxHasIds ?? MAX_HAS_IDS, 'count')
      if (!Number.isSafeInteger(obj.ts) || (obj.ts as number) < 0) throw bad('ts must be milliseconds since the epoch')
      const renew = { op: 'RENEW' as const, owner, count, ts: obj.ts as number, nonce: base64(obj.nonce, 'nonce', 16), sig: base64(obj.sig, 'sig', 64) }
      return obj.delegation === undefined ? renew : { ...renew, delegation: delegation(obj.delegation) }
    }
    default: throw bad('unknown op')
  }
}

/** Bytes of the body that follows a request header: the fragment for PUT, raw ids for HAS and RENEW. */
export function requestBodyLength (req: RequestHeader | { op: 'HAS' | 'RENEW', count: number }): number {
  if (req.op === 'PUT') return req.size
  if (req.op === 'HAS' || req.op === 'RENEW') return req.count * RAW_ID_BYTES
  return 0
}

function short (v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length > SHORT_STRING) throw bad(`${field} must be a short string`)
  return v
}

function count (v: unknown, field: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(`${field} must be a non-negative integer`)
  return v as number
}

function parseStat (v: unknown): FarmerStat {
  if (typeof v !== 'object' || v === null) throw bad('stat must be an object')
  const s = v as Record<string, unknown>
  return {
    capacity: count(s.capacity, 'capacity'),
    used: count(s.used, 'used'),
    free: count(s.free, 'free'),
    count: count(s.count, 'count'),
    region: short(s.region, 'region'),
    tier: short(s.tier, 'tier'),
    kind: short(s.kind, 'kind'),
    version: short(s.version, 'version')
  }
}

/**
 * Validates a response header to a request of operation `op` (and, for HAS and RENEW, `hasCount` ids).
 * Errors thrown here are `BAD_REQUEST`/`TOO_LARGE` about the frame; the client reports them as
 * `BAD_RESPONSE`.
 */
export function parseResponse<O extends Op> (
  op: O, obj: Record<string, unknown>, limits: FrameLimits = {}, hasCount = 0
): ResponseHeader<O> {
  if (obj.ok === false) {
    if (typeof obj.code !== 'string' || !/^[A-Z_]{1,32}$/.test(obj.code)) throw bad('code must be an upper-case code')
    const message = typeof obj.message === 'string' ? obj.message.slice(0, 500) : obj.code
    const details = typeof obj.details === 'object' && obj.details !== null && !Array.isArray(obj.details)
      ? obj.details as Record<string, unknown>
      : undefined
    return { ok: false, code: obj.code, message, ...(details !== undefined ? { details } : {}) }
  }
  if (obj.ok !== true) throw bad('ok must be a boolean')
  let res: OkResponses[Op]
  switch (op as Op) {
    case 'PUT':
      if (typeof obj.stored !== 'boolean') throw bad('stored must be a boolean')
      if (obj.proof !== undefined && (typeof obj.proof !== 'string' || !/^[0-9a-f]{64}$/.test(obj.proof))) {
        throw bad('proof must be 64 lowercase hex characters')
      }
      res = obj.proof === undefined ? { ok: true, stored: obj.stored } : { ok: true, stored: obj.stored, proof: obj.proof }
      break
    case 'GET': res = { ok: true, size: size(obj.size, limits.maxFragmentBytes ?? MAX_FRAGMENT_BYTES, 'size') }; break
    case 'HAS':
      if (typeof obj.held !== 'string' || obj.held.length !== hasCount || !/^[01]*$/.test(obj.held)) {
        throw bad('held must be a 0/1 string with one digit per id')
      }
      res = { ok: true, held: obj.held }
      break
    case 'DELETE': res = { ok: true }; break
    case 'STAT': res = { ok: true, stat: parseStat(obj.stat) }; break
    case 'RENEW':
      if (typeof obj.renewed !== 'string' || obj.renewed.length !== hasCount || !/^[01]*$/.test(obj.renewed)) {
        throw bad('renewed must be a 0/1 string with one digit per id')
      }
      res = { ok: true, renewed: obj.renewed, expiresAt: count(obj.expiresAt, 'expiresAt') }
      break
  }
  return res as ResponseHeader<O>
}

/** True when `op` is an operation of this protocol version. */
export function isOp (op: unknown): op is Op {
  return typeof op === 'string' && (OPS as readonly string[]).includes(op)
}

/** The HAS body: each id as its 32 raw bytes, in order. */
export function encodeIds (ids: readonly string[]): Uint8Array {
  const body = new Uint8Array(ids.length * RAW_ID_BYTES)
  ids.forEach((id, i) => {
    const hex = fragmentId(id)
    for (let j = 0; j < RAW_ID_BYTES; j++) body[i * RAW_ID_BYTES + j] = parseInt(hex.slice(2 * j, 2 * j + 2), 16)
  })
  return body
}

/** Ids of a HAS body (lowercase hex); the body length must be a multiple of 32. */
export function decodeIds (body: Uint8Array): string[] {
  if (body.byteLength % RAW_ID_BYTES !== 0) throw bad('HAS body is not a whole number of ids')
  const ids: string[] = []
  for (let off = 0; off < body.byteLength; off += RAW_ID_BYTES) ids.push(toHex(body.subarray(off, off + RAW_ID_BYTES)))
  return ids
}
