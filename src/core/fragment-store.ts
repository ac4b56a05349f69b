/**
 * The `FragmentStore` port: where a farmer keeps fragments. Adapters live in `src/stores/` (memory,
 * files on disk, IndexedDB) and all of them pass `runFragmentStoreTests` from
 * `src/stores/conformance.ts`. This module is pure: validation and hashing only, no I/O.
 */
import { throwIfAborted, type AbortOptions } from './errors.ts'
import { sha256Hex } from './hash.ts'
import {
  EmptyFragmentError, HashMismatchError, InvalidFragmentIdError, InvalidFragmentMetaError
} from './store-errors.ts'

export * from './store-errors.ts'

/** Lowercase hex SHA-256 of the fragment's bytes, 64 characters. Content addressing makes it unforgeable. */
export type FragmentId = string

/** What a store remembers about a fragment besides its bytes. */
export interface FragmentMeta {
  /**
   * Base64 (standard alphabet, padded) of the raw 32-byte Ed25519 public key allowed to delete the
   * fragment. Fragments without an owner are never deleted by request. The store only keeps it;
   * checking signatures is the farmer's job.
   */
  owner?: string
  /** When the fragment was stored, in milliseconds since the epoch. Set by the store when absent. */
  storedAt?: number
}

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
   * already held succeeds without counting it twice and keeps the first `meta`, so a second
   * uploader cannot take over the right to delete.
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
   * damaged: a wrong owner must never be returned, since it decides who may delete.
   */
  meta: (id: FragmentId, options?: AbortOptions) => Promise<FragmentMeta | undefined>
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
 * Everything a put must check before any adapter commits a byte: the id, a non-empty payload, the
 * metadata and finally the hash (last, because it is the only costly check). Returns the metadata
 * to store, with `storedAt` filled in.
 */
export async function verifyPut (
  id: unknown, bytes: Uint8Array, meta: FragmentMeta = {}, signal?: AbortSignal
): Promise<FragmentMeta> {
  assertFragmentId(id)
  throwIfAborted(signal)
  if (bytes.byteLength === 0) throw new EmptyFragmentError(id)
  if (meta.owner !== undefined && !isOwnerKey(meta.owner)) {
    throw new InvalidFragmentMetaError('owner must be the base64 of a 32-byte Ed25519 public key')
  }
  const storedAt = meta.storedAt ?? Date.now()
  if (!Number.isSafeInteger(storedAt) || storedAt < 0) {
    throw new InvalidFragmentMetaError('storedAt must be a non-negative integer of milliseconds', { storedAt })
  }
  const actual = await sha256Hex(bytes)
  if (actual !== id) throw new HashMismatchError(id, actual)
  throwIfAborted(signal)
  return meta.owner === undefined ? { storedAt } : { owner: meta.owner, storedAt }
}
