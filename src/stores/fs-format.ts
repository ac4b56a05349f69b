/**
 * The on-disk format of `FsFragmentStore`, kept apart from the store's logic so that another tool
 * (a repair script, a backup) can read it without the store.
 *
 * ```
 * DIR/fragments/ab/abcdef…   one file per fragment: a 64-byte header, then the payload (all 256
 *                             fan-out directories 00…ff are made when the store opens)
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
 * The metadata lives in the fragment's own file, not in a sidecar, so one rename commits bytes
 * and owner together: a crash can never leave a fragment whose delete right was lost. The payload
 * is protected by its SHA-256 (the file name); the header by its CRC, because a flipped bit in the
 * owner would otherwise silently hand the delete right to a key nobody holds.
 */
import { Buffer } from 'node:buffer'
import { crc32 } from 'node:zlib'
import type { FragmentMeta } from '../core/fragment-store.ts'

/** Size of the header that precedes every payload. */
export const HEADER_SIZE = 64

const MAGIC = 0x47524653 // 'SFRG' read as a little-endian uint32
const VERSION = 1
const HAS_OWNER = 1
const OWNER_SIZE = 32
const CRC_OFFSET = 56

/** What a header says: the fragment's metadata and its payload length. */
export interface FragmentHeader {
  meta: FragmentMeta
  length: number
}

/** Encodes a header. `meta.owner` must already be validated (`isOwnerKey`). */
export function encodeHeader (meta: FragmentMeta, length: number): Uint8Array {
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
  const meta: FragmentMeta = { storedAt }
  if ((flags & HAS_OWNER) !== 0) {
    meta.owner = Buffer.from(bytes.subarray(16, 16 + OWNER_SIZE)).toString('base64')
  }
  return { meta, length: Number(length) }
}
