import { canonicalJson } from './canonical.ts'
import { ShardfarmError } from './errors.ts'
import { AuthenticationError, openBytes, sealBytes } from './envelope.ts'
import { fromBase64, toBase64 } from './owner-key.ts'
import { normalizePolicy, type StoragePolicy } from './policy.ts'

/**
 * What anyone holding a verify link may know of a file: enough to find, audit and rebuild its
 * fragments, nothing about what it is. In version 2 this is the object stored on farmers, sealed
 * under the verify key (`sealManifestV2`); the file's details ride inside it in `details`, sealed
 * again under the file key. In version 1 the whole manifest was sealed under the file key.
 */
export interface VerifyManifest {
  /** 1: sealed whole under the file key; 2: a verify manifest with sealed details. */
  version: 1 | 2
  /** Hex of the 16-byte file id (also bound into every segment's associated data). */
  fileId: string
  policy: Required<StoragePolicy>
  /** Nominal shard size: every segment but the last fills k shards of it. */
  shardSize: number
  segments: SegmentEntry[]
  /** Last known addresses per holder peer id (the directory is asked first; these are the fallback). */
  farmers: Record<string, string[]>
  /** Base64 raw Ed25519 public key that may delete the fragments (absent: not deletable). */
  owner?: string
  /** Version 2: base64 of the file's `ManifestDetails`, sealed under the file key. */
  details?: string
}

/** What only the read key reveals: the file itself. */
export interface ManifestDetails {
  /** File name as the uploader gave it (may be empty). */
  name: string
  /** MIME type. @default 'application/octet-stream' */
  mime: string
  /** Plaintext size in bytes. */
  size: number
  /**
   * Content hash of the plaintext, hex: SHA-256 over the SHA-256 digests of the segments'
   * plaintexts, in order (a hash list). WebCrypto has no streaming hash, and this one needs none:
   * each segment is hashed whole as it passes, and the file's hash follows from the list.
   */
  contentHash: string
  /** Milliseconds since the epoch. */
  createdAt: number
}

/** The manifest as a reader sees it: the verify manifest and the file's details. */
export interface Manifest extends VerifyManifest, ManifestDetails {}

export interface SegmentEntry {
  /** Ciphertext bytes (plaintext + 16-byte tag) before padding to k shards. */
  ciphertextLength: number
  /** Bytes per fragment of this segment. */
  shardLength: number
  /** k + m fragment ids (hex SHA-256), data fragments first. */
  fragments: string[]
  /**
   * Version 2: the Merkle root (hex) of each fragment over 1 KiB leaves (`core/merkle.ts`), in the
   * order of `fragments`: what an audit's proofs are checked against.
   */
  roots?: string[]
  /** Peer ids holding each fragment (usually one; more after repair or over-provisioning). */
  holders: string[][]
}

export class ManifestError extends ShardfarmError {
  constructor (reason: string) {
    super('ManifestError', 'BAD_MANIFEST', `The manifest is malformed: ${reason}`, { reason })
  }
}

const HEX64 = /^[0-9a-f]{64}$/
const HEX32 = /^[0-9a-f]{32}$/
const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** Canonical bytes of a version-1 manifest (validated first). */
export function encodeManifest (m: Manifest): Uint8Array {
  return enc.encode(canonicalJson(validateManifest({ ...m, version: 1 })))
}

/** Parses and validates manifest bytes; anything off gives `ManifestError`, never a half manifest. */
export function decodeManifest (bytes: Uint8Array): Manifest {
  return validateManifest(parseJson(bytes))
}

function parseJson (bytes: Uint8Array): unknown {
  try {
    return JSON.parse(dec.decode(bytes))
  } catch {
    throw new ManifestError('not JSON')
  }
}

/**
 * Encrypts a manifest under the file key, with a fresh random nonce carried in the result
 * (`sealBytes`, format 2): sealing again, the same manifest or another (a resumed upload whose
 * farmers moved), never reuses a nonce, and gives other bytes, so another manifest id.
 */
export async function sealManifest (key: CryptoKey, fileId: Uint8Array, m: Manifest): Promise<Uint8Array> {
  return await sealBytes(key, fileId, encodeManifest(m))
}

/**
 * Seals a version-2 manifest: the details under the file key, and the verify manifest holding them
 * under the verify key (`deriveVerifyKey`). Each sealing has a fresh random nonce. Every segment
 * must carry its fragments' Merkle roots.
 */
export async function sealManifestV2 (fileKey: CryptoKey, verifyKey: CryptoKey, fileId: Uint8Array, m: Manifest): Promise<Uint8Array> {
  const { name, mime, size, contentHash, createdAt, details: _, ...rest } = m
  const details = validateDetails({ name, mime, size, contentHash, createdAt })
  const sealedDetails = await sealBytes(fileKey, fileId, enc.encode(canonicalJson(details)))
  const outer = validateVerifyManifest({ ...rest, version: 2, details: toBase64(sealedDetails) })
  return await sealBytes(verifyKey, fileId, enc.encode(canonicalJson(outer)))
}

/** Opens a version-2 manifest with the verify key: what a verify link sees. */
export async function openVerifyManifest (verifyKey: CryptoKey, fileId: Uint8Array, sealed: Uint8Array): Promise<VerifyManifest> {
  const v = validateVerifyManifest(parseJson(await openBytes(verifyKey, fileId, sealed)))
  if (v.version !== 2) throw new ManifestError('a verify manifest must be version 2')
  return v
}

/** Opens a version-2 manifest with both keys: the verify manifest and the file's details. */
export async function openManifestV2 (fileKey: CryptoKey, verifyKey: CryptoKey, fileId: Uint8Array, sealed: Uint8Array): Promise<Manifest> {
  const v = await openVerifyManifest(verifyKey, fileId, sealed)
  let bytes: Uint8Array
  try {
    bytes = await openBytes(fileKey, fileId, fromBase64(v.details ?? ''))
  } catch {
    throw new AuthenticationError('manifest details')
  }
  const { details: _, ...rest } = v
  return { ...rest, ...validateDetails(parseJson(bytes)) }
}

/**
 * Decrypts (`AuthenticationError` on a wrong key or tampering) and validates a manifest, sealed in
 * format 2 or in format 1 (fixed nonce, before format 2) so that older links still open.
 */
export async function openManifest (key: CryptoKey, fileId: Uint8Array, sealed: Uint8Array): Promise<Manifest> {
  return decodeManifest(await openBytes(key, fileId, sealed))
}

function validateManifest (v: unknown): Manifest {
  const o = obj(v, 'manifest')
  if (o.version !== 1) throw new ManifestError(`unsupported version ${String(o.version)}`)
  return { ...validateVerifyManifest(o), ...validateDetails(o) }
}

function validateDetails (v: unknown): ManifestDetails {
  const o = obj(v, 'details')
  const contentHash = str(o.contentHash, 'contentHash')
  if (!HEX64.test(contentHash)) throw new ManifestError('contentHash is not 64 hex characters')
  return {
    name: str(o.name ?? '', 'name'),
    mime: str(o.mime ?? 'application/octet-stream', 'mime'),
    size: int(o.size, 'size', 0),
    contentHash,
    createdAt: int(o.createdAt, 'createdAt', 0)
  }
}

function validateVerifyManifest (v: unknown): VerifyManifest {
  const o = obj(v, 'manifest')
  if (o.version !== 1 && o.version !== 2) throw new ManifestError(`unsupported version ${String(o.version)}`)
  const version = o.version
  const fileId = str(o.fileId, 'fileId')
  if (!HEX32.test(fileId)) throw new ManifestError('fileId is not 32 hex characters')
  let policy: Required<StoragePolicy>
  try {
    policy = normalizePolicy(o.policy)
  } catch (err) {
    throw new ManifestError(`policy: ${(err as Error).message}`)
  }
  const n = policy.k + policy.m
  const shardSize = int(o.shardSize, 'shardSize', 1)
  if (!Array.isArray(o.segments) || o.segments.length < 1) throw new ManifestError('no segments')
  const hexIds = (xs: unknown): xs is string[] => Array.isArray(xs) && xs.length === n && xs.every(f => typeof f === 'string' && HEX64.test(f))
  const segments = o.segments.map((s: unknown, i: number): SegmentEntry => {
    const e = obj(s, `segment ${i}`)
    const ciphertextLength = int(e.ciphertextLength, `segment ${i} ciphertextLength`, 16)
    const shardLength = int(e.shardLength, `segment ${i} shardLength`, 1)
    if (shardLength * policy.k < ciphertextLength || shardLength > shardSize) throw new ManifestError(`segment ${i} shardLength does not fit its ciphertext`)
    if (!hexIds(e.fragments)) throw new ManifestError(`segment ${i} needs ${n} hex fragment ids`)
    if (!Array.isArray(e.holders) || e.holders.length !== n || !e.holders.every(h => Array.isArray(h) && h.every(p => typeof p === 'string' && p.length <= 128))) {
      throw new ManifestError(`segment ${i} needs ${n} holder lists`)
    }
    const entry: SegmentEntry = { ciphertextLength, shardLength, fragments: e.fragments, holders: e.holders as string[][] }
    if (version === 2) {
      if (!hexIds(e.roots)) throw new ManifestError(`segment ${i} needs ${n} hex Merkle roots`)
      entry.roots = e.roots
    }
    return entry
  })
  const farmers = obj(o.farmers ?? {}, 'farmers')
  for (const [peer, addrs] of Object.entries(farmers)) {
    if (!Array.isArray(addrs) || !addrs.every(a => typeof a === 'string')) throw new ManifestError(`farmer ${peer} addresses`)
  }
  const m: VerifyManifest = { version, fileId, policy, shardSize, segments, farmers: farmers as Record<string, string[]> }
  if (o.owner !== undefined) m.owner = str(o.owner, 'owner')
  if (version === 2) {
    const details = o.details
    if (typeof details !== 'string' || details.length > 65_536 || !/^[A-Za-z0-9+/]*={0,2}$/.test(details)) throw new ManifestError('details are not base64')
    m.details = details
  }
  return m
}

function obj (v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ManifestError(`${what} is not an object`)
  return v as Record<string, unknown>
}

function str (v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > 4096) throw new ManifestError(`${what} is not a string`)
  return v
}

function int (v: unknown, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new ManifestError(`${what} is not an integer ≥ ${min}`)
  return v
}
