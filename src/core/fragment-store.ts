/**
 * The `FragmentStore` port: where a farmer keeps fragments. Adapters live in `src/stores/` (memory,
 * files on disk, IndexedDB) and all of them pass `runFragmentStoreTests` from
 * `src/stores/conformance.ts`. This module is pure: validation and hashing only, no I/O.
 */
import { throwIfAborted, type AbortOptions } from './errors.ts'
import { sha256Hex } from './hash.ts'
import {
  ClaimLimitError, EmptyFragmentError, HashMismatchError, InvalidFragmentIdError, InvalidFragmentMetaError
} from './store-errors.ts'

export * from './store-errors.ts'

/** Lowercase hex SHA-256 of the fragment's bytes, 64 characters. Content addressing makes it unforgeable. */
export type FragmentId = string

/**
 * One owner's hold on a fragment. A fragment is kept while at least one claim is live; each owner
 * has at most one claim per fragment, and deleting removes only the caller's. The store keeps
 * claims; checking signatures and expiring leases is the farmer's job.
 */
export interface FragmentClaim {
  /** Base64 (standard alphabet, padded) of the raw 32-byte Ed25519 public key that holds the claim. */
  owner: string
  /** Peer id of the uploader that last set the claim (empty for claims read from the older format). */
  peer: string
  /** When the lease ends, in milliseconds since the epoch. */
  expiresAt: number
}

/** Most claims one fragment carries; one more is `ClaimLimitError` (`QUOTA_EXCEEDED`). */
export const MAX_CLAIMS_PER_FRAGMENT = 64
/** Longest peer id a claim keeps (Ed25519 ids are 52 characters, RSA ones under 100). */
export const MAX_CLAIM_PEER_CHARS = 128
/**
 * Lease end given to an owner read from the older single-owner format: never, until the farmer's
 * collector first meets it and shortens it to one lease from then.
 */
export const UNLEASED = Number.MAX_SAFE_INTEGER

/** What a store remembers about a fragment besides its bytes. */
export interface FragmentMeta {
  /**
   * The claims on the fragment. On `put` of an id already held these are merged into the held ones
   * (an owner's new claim replaces its old one), so a later uploader adds its claim instead of being
   * ignored. @default [] (a fragment nobody claims; a farmer never stores one)
   */
  claims?: readonly FragmentClaim[]
  /** When the fragment was stored, in milliseconds since the epoch. Set by the store when absent. */
  storedAt?: number
}

/** The metadata a store returns: every field filled in. */
export interface StoredFragmentMeta {
  claims: FragmentClaim[]
  storedAt: number
  /** Payload bytes. */
  size: number
}

/** One fragment as `FragmentStore.list` yields it. */
export interface FragmentEntry {
  id: FragmentId
  /** Payload bytes. */
  size: number
  claims: FragmentClaim[]
}

/** Given the claims held now, returns the claims to keep (`FragmentStore.updateClaims`). */
export type ClaimsUpdate = (claims: readonly FragmentClaim[]) => readonly FragmentClaim[]

/** Capacity figures in bytes of fragment payload (adapters may spend a little more on disk). */
export interface StoreStat {
  /** The quota: the most payload bytes this store will accept. */
  capacity: number
  /** Payload bytes held now. */
  used: number
  /** Bytes a new put may still take: capacity minus used minus bytes reserved by puts in flight. */
  free: number
  /** Number of fragments held. */
  count: number
}

export type { AbortOptions } from './errors.ts'

/**
 * A fragment being read in chunks (`FragmentStore.openRead`). The payload is hashed as it is read and
 * the **last chunk is withheld until the whole payload has verified**: when the stored bytes no
 * longer hash to the id, the iteration throws `CorruptFragmentError` instead of yielding it (and the
 * store drops the fragment, as `get` does). So a consumer that forwards chunks as they come never
 * forwards a complete corrupt fragment, although it forwards most of one before it knows.
 */
export interface FragmentReadStream {
  /** Payload bytes the chunks add up to. */
  readonly size: number
  /** The payload in order, each chunk a fresh buffer the consumer may keep. Iterate once. */
  readonly chunks: AsyncIterable<Uint8Array>
  /** Releases what the read holds (a file handle); idempotent, and done by the end of the iteration. */
  close: () => Promise<void>
}

/** Options of `FragmentStore.openRead`. */
export interface ReadStreamOptions extends AbortOptions {
  /** Bytes per chunk (the last one may be shorter). @default the adapter's, 256 KiB for the disk store */
  chunkBytes?: number
}

/**
 * A content-addressed fragment store with a quota. Every method validates ids first and throws
 * `InvalidFragmentIdError` (`BAD_REQUEST`) for a malformed one, so a hostile id never reaches a file
 * path or a database key. After `close()` every method rejects with `StoreClosedError`.
 */
export interface FragmentStore {
  /**
   * Stores `bytes` under `id`. Rejects with `HashMismatchError` when SHA-256(bytes) is not `id`,
   * `EmptyFragmentError` for zero bytes, `QuotaExceededError` when the quota would be exceeded
   * (exact even under concurrent puts), and `DiskFullError` when the device is full. Putting an id
   * already held succeeds without counting it twice and merges `meta.claims` into the held claims
   * (`mergeClaims`), or rejects with `ClaimLimitError` past `MAX_CLAIMS_PER_FRAGMENT`.
   */
  put: (id: FragmentId, bytes: Uint8Array, meta?: FragmentMeta, options?: AbortOptions) => Promise<void>
  /**
   * Returns the fragment's bytes, verified against `id` on every read. Rejects with
   * `FragmentNotFoundError` when absent and `CorruptFragmentError` when the stored bytes no longer
   * match; a corrupt fragment is removed (or quarantined) at that moment and never returned.
   */
  get: (id: FragmentId, options?: AbortOptions) => Promise<Uint8Array>
  /**
   * Optional: reads the fragment in chunks, so a farmer can serve it without holding it whole (see
   * `FragmentReadStream` for how verification works). Rejects like `get` when the fragment is absent
   * or visibly damaged before the first byte. Adapters without it are served through `get`.
   */
  openRead?: (id: FragmentId, options?: ReadStreamOptions) => Promise<FragmentReadStream>
  /** For each id, in order, whether the store holds it. Does not re-hash. */
  has: (ids: FragmentId[], options?: AbortOptions) => Promise<boolean[]>
  /**
   * The fragment's metadata, or `undefined` when the store does not hold it. Rejects with
   * `CorruptFragmentError` (and drops the fragment) when an adapter can tell the stored metadata is
   * damaged: a wrong claim must never be returned, since claims decide who may delete.
   */
  meta: (id: FragmentId, options?: AbortOptions) => Promise<StoredFragmentMeta | undefined>
  /**
   * Replaces the claims of `id` with `update(claims held now)`, atomically: no other put, update or
   * delete of `id` runs in between. When the result is empty the fragment is deleted and its bytes
   * freed. Resolves to the claims kept (`[]` when deleted), or `undefined` when `id` is not held.
   * Rejects with `InvalidFragmentMetaError` for a malformed claim and `ClaimLimitError` past the cap;
   * then nothing changes.
   */
  updateClaims: (id: FragmentId, update: ClaimsUpdate, options?: AbortOptions) => Promise<FragmentClaim[] | undefined>
  /**
   * Every fragment held, with its size and claims, from the store's memory (no payload is read).
   * For the farmer's per-owner accounting and its lease collector.
   */
  list: (options?: AbortOptions) => AsyncIterable<FragmentEntry>
  /**
   * Removes the fragment and frees its bytes. Returns false when it was not held. Performs no
   * authorisation: the farmer checks the owner's signature before calling.
   */
  delete: (id: FragmentId, options?: AbortOptions) => Promise<boolean>
  /** Capacity, usage and count, in bytes of payload. */
  stat: () => Promise<StoreStat>
  /** Waits for writes in flight, then releases resources. Idempotent. */
  close: () => Promise<void>
}

const FRAGMENT_ID = /^[0-9a-f]{64}$/
// 32 bytes are 43 base64 characters plus one '='; the 43rd carries 4 data bits and 2 zero bits,
// so only these 16 letters are canonical. Canonical form keeps one key to one string.
const OWNER_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/

/** True when `s` is a well-formed fragment id: 64 lowercase hex characters. */
export function isFragmentId (s: unknown): s is FragmentId {
  return typeof s === 'string' && FRAGMENT_ID.test(s)
}

/** Throws `InvalidFragmentIdError` unless `s` is a well-formed fragment id. */
export function assertFragmentId (s: unknown): asserts s is FragmentId {
  if (!isFragmentId(s)) throw new InvalidFragmentIdError(s)
}

/** True when `s` is the canonical base64 of a 32-byte Ed25519 public key. */
export function isOwnerKey (s: unknown): s is string {
  return typeof s === 'string' && OWNER_KEY.test(s)
}

/**
 * Throws `InvalidFragmentMetaError` unless `claims` is a list of at most `MAX_CLAIMS_PER_FRAGMENT`
 * well-formed claims with distinct owners; `ClaimLimitError` when there are more. Returns copies.
 */
export function checkClaims (id: FragmentId, claims: readonly FragmentClaim[]): FragmentClaim[] {
  if (!Array.isArray(claims)) throw new InvalidFragmentMetaError('claims must be a list')
  if (claims.length > MAX_CLAIMS_PER_FRAGMENT) throw new ClaimLimitError(id, MAX_CLAIMS_PER_FRAGMENT)
  const owners = new Set<string>()
  return claims.map(c => {
    if (typeof c !== 'object' || c === null || !isOwnerKey(c.owner)) {
      throw new InvalidFragmentMetaError('owner must be the base64 of a 32-byte Ed25519 public key')
    }
    if (typeof c.peer !== 'string' || c.peer.length > MAX_CLAIM_PEER_CHARS) {
      throw new InvalidFragmentMetaError(`peer must be a string of at most ${MAX_CLAIM_PEER_CHARS} characters`)
    }
    if (!Number.isSafeInteger(c.expiresAt) || c.expiresAt < 0) {
      throw new InvalidFragmentMetaError('expiresAt must be a non-negative integer of milliseconds', { expiresAt: c.expiresAt })
    }
    if (owners.has(c.owner)) throw new InvalidFragmentMetaError('an owner has at most one claim on a fragment')
    owners.add(c.owner)
    return { owner: c.owner, peer: c.peer, expiresAt: c.expiresAt }
  })
}

/**
 * `held` with `added` merged in: an owner's claim in `added` replaces its held one, others are
 * appended. Checked like `checkClaims`, so past the cap it throws `ClaimLimitError`.
 */
export function mergeClaims (id: FragmentId, held: readonly FragmentClaim[], added: readonly FragmentClaim[]): FragmentClaim[] {
  const byOwner = new Map(held.map(c => [c.owner, c]))
  for (const c of added) byOwner.set(c.owner, c)
  return checkClaims(id, [...byOwner.values()])
}

/**
 * Everything a put must check before any adapter commits a byte: the id, a non-empty payload, the
 * metadata and finally the hash (last, because it is the only costly check). Returns the metadata
 * to store, with `storedAt` filled in.
 */
export async function verifyPut (
  id: unknown, bytes: Uint8Array, meta: FragmentMeta = {}, signal?: AbortSignal
): Promise<StoredFragmentMeta> {
  assertFragmentId(id)
  throwIfAborted(signal)
  if (bytes.byteLength === 0) throw new EmptyFragmentError(id)
  const claims = checkClaims(id, meta.claims ?? [])
  const storedAt = meta.storedAt ?? Date.now()
  if (!Number.isSafeInteger(storedAt) || storedAt < 0) {
    throw new InvalidFragmentMetaError('storedAt must be a non-negative integer of milliseconds', { storedAt })
  }
  const actual = await sha256Hex(bytes)
  if (actual !== id) throw new HashMismatchError(id, actual)
  throwIfAborted(signal)
  return { claims, storedAt, size: bytes.byteLength }
}
