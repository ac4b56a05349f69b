/**
 * The on-disk format of `FsFragmentStore`, kept apart from the store's logic so that another tool
 * (a repair script, a backup) can read it without the store.
 *
 * ```
 * DIR/fragments/ab/abcdef…   one file per fragment: a 64-byte header, then the payload (all 256
 *                             fan-out directories 00…ff are made when the store opens)
 * DIR/fragments/ab/abcdef….claims   the fragment's claims (below), replaced whole by a rename
 * DIR/tmp/                    writes in progress; anything here at open is a dead writer's and is deleted
 * DIR/quarantine/             files dropped by the startup scan or by a failed read; not counted in
 *                             the quota, kept as evidence of a bad disk, safe to delete by hand
 * ```
 *
 * Header (little-endian), 64 bytes:
 * | offset | size | field                                                   |
 * |-------:|-----:|---------------------------------------------------------|
 * |      0 |    4 | magic `SFRG`                                            |
 * |      4 |    1 | version, 1                                              |
 * |      5 |    1 | flags: bit 0 set when an owner key is present           |
 * |      6 |    2 | zero                                                    |
 * |      8 |    8 | storedAt, milliseconds since the epoch (float64)        |
 * |     16 |   32 | owner: raw Ed25519 public key, zeros when absent        |
 * |     48 |    8 | payload length in bytes (uint64)                        |
 * |     56 |    4 | CRC-32 of bytes 0..55                                   |
 * |     60 |    4 | zero                                                    |
 *
 * The payload is protected by its SHA-256 (the file name); the header by its CRC.
 *
 * Claims file (`<id>.claims`): CRC-32 of the rest (uint32 little-endian), then UTF-8 JSON
 * `{"claims":[{"owner","peer","expiresAt"}…]}` (at most 64 claims, so a few KiB). Claims change on
 * every upload and lease renewal, so they live beside the payload rather than in its header: a
 * renewal rewrites a few hundred bytes, not the fragment. A new fragment's claims file is renamed
 * into place before its fragment file, so a crash leaves at worst a claims file with no fragment
 * (removed at open), never a fragment nobody claims.
 *
 * Older format: a fragment written before claims existed has no claims file; the owner in its
 * header (flag bit 0) becomes its one claim, with no peer and no lease end until the farmer's
 * collector gives it one (`UNLEASED`). New fragments leave the header's owner empty.
 */
import { Buffer } from 'node:buffer'
import { crc32 } from 'node:zlib'
import { checkClaims, UNLEASED } from '../core/fragment-store.ts'
import type { FragmentClaim, FragmentId, StoredFragmentMeta } from '../core/fragment-store.ts'

/** Size of the header that precedes every payload. */
export const HEADER_SIZE = 64

const MAGIC = 0x47524653 // 'SFRG' read as a little-endian uint32
const VERSION = 1
const HAS_OWNER = 1
const OWNER_SIZE = 32
const CRC_OFFSET = 56

/** What a header says: the fragment's metadata and its payload length. */
export interface FragmentHeader {
  meta: StoredFragmentMeta
  length: number
}

/** Suffix of a claims file's name, after the fragment id. */
export const CLAIMS_SUFFIX = '.claims'

/** Encodes a header. The owner is written only by tools that still make the older format. */
export function encodeHeader (meta: { storedAt?: number, owner?: string }, length: number): Uint8Array {
  const header = new Uint8Array(HEADER_SIZE)
  const view = new DataView(header.buffer)
  view.setUint32(0, MAGIC, true)
  view.setUint8(4, VERSION)
  view.setFloat64(8, meta.storedAt ?? Date.now(), true)
  if (meta.owner !== undefined) {
    view.setUint8(5, HAS_OWNER)
    header.set(Buffer.from(meta.owner, 'base64'), 16)
  }
  view.setBigUint64(48, BigInt(length), true)
  view.setUint32(CRC_OFFSET, crc32(header.subarray(0, CRC_OFFSET)), true)
  return header
}

/** Decodes a header from the first bytes of a file, or `undefined` when anything is off. */
export function decodeHeader (bytes: Uint8Array): FragmentHeader | undefined {
  if (bytes.byteLength < HEADER_SIZE) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE)
  if (view.getUint32(0, true) !== MAGIC || view.getUint8(4) !== VERSION) return undefined
  if (view.getUint32(CRC_OFFSET, true) !== crc32(bytes.subarray(0, CRC_OFFSET))) return undefined
  const flags = view.getUint8(5)
  const storedAt = view.getFloat64(8, true)
  const length = view.getBigUint64(48, true)
  if ((flags & ~HAS_OWNER) !== 0 || !Number.isSafeInteger(storedAt) || storedAt < 0) return undefined
  if (length < 1n || length > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  const meta: StoredFragmentMeta = { storedAt, claims: [], size: Number(length) }
  if ((flags & HAS_OWNER) !== 0) {
    meta.claims.push({ owner: Buffer.from(bytes.subarray(16, 16 + OWNER_SIZE)).toString('base64'), peer: '', expiresAt: UNLEASED })
  }
  return { meta, length: Number(length) }
}

/** Encodes a claims file. The claims must already be checked (`checkClaims`). */
export function encodeClaims (claims: readonly FragmentClaim[]): Uint8Array {
  const json = Buffer.from(JSON.stringify({ claims }), 'utf8')
  const out = new Uint8Array(4 + json.byteLength)
  new DataView(out.buffer).setUint32(0, crc32(json), true)
  out.set(json, 4)
  return out
}

/** Decodes a claims file, or `undefined` when its CRC, JSON or any claim is off. */
export function decodeClaims (id: FragmentId, bytes: Uint8Array): FragmentClaim[] | undefined {
  if (bytes.byteLength < 4) return undefined
  const json = bytes.subarray(4)
  if (new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) !== crc32(json)) return undefined
  try {
    const parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json)) as { claims?: unknown }
    return checkClaims(id, parsed.claims as FragmentClaim[])
  } catch {
    return undefined
  }
}
