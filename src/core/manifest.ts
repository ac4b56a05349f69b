import { canonicalJson } from './canonical.ts'
import { ShardfarmError } from './errors.ts'
import { openBytes, sealBytes } from './envelope.ts'
import { normalizePolicy, type StoragePolicy } from './policy.ts'

/**
 * The manifest: everything needed to find, check and rebuild a file, and nothing a farmer may read
 * (it is stored encrypted with the file key). Version 1.
 */
export interface Manifest {
  version: 1
  /** Hex of the 16-byte file id (also bound into every segment's associated data). */
  fileId: string
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
  policy: Required<StoragePolicy>
  /** Nominal shard size: every segment but the last fills k shards of it. */
  shardSize: number
  segments: SegmentEntry[]
  /** Last known addresses per holder peer id (the directory is asked first; these are the fallback). */
  farmers: Record<string, string[]>
  /** Base64 raw Ed25519 public key that may delete the fragments (absent: not deletable). */
  owner?: string
}

export interface SegmentEntry {
  /** Ciphertext bytes (plaintext + 16-byte tag) before padding to k shards. */
  ciphertextLength: number
  /** Bytes per fragment of this segment. */
  shardLength: number
  /** k + m fragment ids (hex SHA-256), data fragments first. */
  fragments: string[]
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

/** Canonical bytes of a manifest (validated first). */
export function encodeManifest (m: Manifest): Uint8Array {
  return enc.encode(canonicalJson(validateManifest(m)))
}

/** Parses and validates manifest bytes; anything off gives `ManifestError`, never a half manifest. */
export function decodeManifest (bytes: Uint8Array): Manifest {
  let value: unknown
  try {
    value = JSON.parse(dec.decode(bytes))
  } catch {
    throw new ManifestError('not JSON')
  }
  return validateManifest(value)
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
 * Decrypts (`AuthenticationError` on a wrong key or tampering) and validates a manifest, sealed in
 * format 2 or in format 1 (fixed nonce, before format 2) so that older links still open.
 */
export async function openManifest (key: CryptoKey, fileId: Uint8Array, sealed: Uint8Array): Promise<Manifest> {
  return decodeManifest(await openBytes(key, fileId, sealed))
}

function validateManifest (v: unknown): Manifest {
  const o = obj(v, 'manifest')
  if (o.version !== 1) throw new ManifestError(`unsupported version ${String(o.version)}`)
  const fileId = str(o.fileId, 'fileId')
  if (!HEX32.test(fileId)) throw new ManifestError('fileId is not 32 hex characters')
  let policy: Required<StoragePolicy>
  try {
    policy = normalizePolicy(o.policy)
  } catch (err) {
    throw new ManifestError(`policy: ${(err as Error).message}`)
  }
  const n = policy.k + policy.m
  const size = int(o.size, 'size', 0)
  const contentHash = str(o.contentHash, 'contentHash')
  if (!HEX64.test(contentHash)) throw new ManifestError('contentHash is not 64 hex characters')
  const shardSize = int(o.shardSize, 'shardSize', 1)
  if (!Array.isArray(o.segments) || o.segments.length < 1) throw new ManifestError('no segments')
  const segments = o.segments.map((s: unknown, i: number): SegmentEntry => {
    const e = obj(s, `segment ${i}`)
    const ciphertextLength = int(e.ciphertextLength, `segment ${i} ciphertextLength`, 16)
    const shardLength = int(e.shardLength, `segment ${i} shardLength`, 1)
    if (shardLength * policy.k < ciphertextLength || shardLength > shardSize) throw new ManifestError(`segment ${i} shardLength does not fit its ciphertext`)
    if (!Array.isArray(e.fragments) || e.fragments.length !== n || !e.fragments.every(f => typeof f === 'string' && HEX64.test(f))) {
      throw new ManifestError(`segment ${i} needs ${n} hex fragment ids`)
    }
    if (!Array.isArray(e.holders) || e.holders.length !== n || !e.holders.every(h => Array.isArray(h) && h.every(p => typeof p === 'string' && p.length <= 128))) {
      throw new ManifestError(`segment ${i} needs ${n} holder lists`)
    }
    return { ciphertextLength, shardLength, fragments: e.fragments as string[], holders: e.holders as string[][] }
  })
  const farmers = obj(o.farmers ?? {}, 'farmers')
  for (const [peer, addrs] of Object.entries(farmers)) {
    if (!Array.isArray(addrs) || !addrs.every(a => typeof a === 'string')) throw new ManifestError(`farmer ${peer} addresses`)
  }
  const m: Manifest = {
    version: 1, fileId, name: str(o.name ?? '', 'name'), mime: str(o.mime ?? 'application/octet-stream', 'mime'), size, contentHash,
    createdAt: int(o.createdAt, 'createdAt', 0), policy, shardSize, segments, farmers: farmers as Record<string, string[]>
  }
  if (o.owner !== undefined) m.owner = str(o.owner, 'owner')
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
