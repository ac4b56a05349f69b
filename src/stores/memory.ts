/**
 * A `FragmentStore` in a `Map`: for tests and for the core's unit tests. It copies bytes in and
 * out, so a caller that mutates a buffer after `put` or after `get` cannot change what is stored.
 */
import { throwIfAborted } from '../core/errors.ts'
import {
  assertFragmentId, checkClaims, CorruptFragmentError, FragmentNotFoundError, mergeClaims, QuotaExceededError,
  StoreClosedError, verifyPut
} from '../core/fragment-store.ts'
import type {
  AbortOptions, ClaimsUpdate, FragmentClaim, FragmentEntry, FragmentId, FragmentMeta, FragmentReadStream, FragmentStore,
  ReadStreamOptions, StoredFragmentMeta, StoreStat
} from '../core/fragment-store.ts'
import { sha256Hex } from '../core/hash.ts'

/** Default quota of a memory store: 256 MiB. */
export const MEMORY_STORE_QUOTA = 256 * 1024 * 1024

/** Options of `MemoryFragmentStore`. */
export interface MemoryFragmentStoreInit {
  /**
   * Most payload bytes the store accepts.
   * @default MEMORY_STORE_QUOTA (256 MiB)
   */
  quota?: number
}

interface Entry {
  bytes: Uint8Array
  meta: StoredFragmentMeta
}

/** `FragmentStore` held in memory; lost when the process ends. */
export class MemoryFragmentStore implements FragmentStore {
  readonly #quota: number
  readonly #entries = new Map<FragmentId, Entry>()
  #used = 0
  #closed = false

  constructor (init: MemoryFragmentStoreInit = {}) {
    this.#quota = init.quota ?? MEMORY_STORE_QUOTA
  }

  /** @inheritDoc */
  async put (id: FragmentId, bytes: Uint8Array, meta?: FragmentMeta, options: AbortOptions = {}): Promise<void> {
    this.#assertOpen()
    const stored = await verifyPut(id, bytes, meta, options.signal)
    // From here to the end everything is synchronous, which is what makes the quota exact: no
    // other put can interleave between the check and the insert.
    this.#assertOpen()
    const held = this.#entries.get(id)
    if (held !== undefined) {
      held.meta.claims = mergeClaims(id, held.meta.claims, stored.claims)
      return
    }
    if (this.#used + bytes.byteLength > this.#quota) {
      throw new QuotaExceededError(this.#quota, this.#used, bytes.byteLength)
    }
    this.#entries.set(id, { bytes: bytes.slice(), meta: stored })
    this.#used += bytes.byteLength
  }

  /** @inheritDoc */
  async get (id: FragmentId, options: AbortOptions = {}): Promise<Uint8Array> {
    const entry = this.#lookup(id, options)
    if (entry === undefined) throw new FragmentNotFoundError(id)
    // Hash on read even in memory: the conformance suite holds every adapter to the same promise.
    if (await sha256Hex(entry.bytes) !== id) {
      if (this.#entries.get(id) === entry) this.#remove(id, entry)
      throw new CorruptFragmentError(id)
    }
    return entry.bytes.slice()
  }

  /**
   * @inheritDoc — the bytes are in memory already, so they are verified whole up front (as `get`
   * does) and handed out as copies of each chunk.
   */
  async openRead (id: FragmentId, options: ReadStreamOptions = {}): Promise<FragmentReadStream> {
    const entry = this.#lookup(id, options)
    if (entry === undefined) throw new FragmentNotFoundError(id)
    if (await sha256Hex(entry.bytes) !== id) {
      if (this.#entries.get(id) === entry) this.#remove(id, entry)
      throw new CorruptFragmentError(id)
    }
    const chunkBytes = Math.max(1, options.chunkBytes ?? 256 * 1024)
    const bytes = entry.bytes
    async function * chunks (): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < bytes.byteLength; off += chunkBytes) {
        throwIfAborted(options.signal)
        yield bytes.slice(off, off + chunkBytes)
      }
    }
    return { size: bytes.byteLength, chunks: chunks(), close: async () => {} }
  }

  /** @inheritDoc */
  async has (ids: FragmentId[], options: AbortOptions = {}): Promise<boolean[]> {
    this.#assertOpen()
    throwIfAborted(options.signal)
    ids.forEach(id => { assertFragmentId(id) })
    return ids.map(id => this.#entries.has(id))
  }

  /** @inheritDoc */
  async meta (id: FragmentId, options: AbortOptions = {}): Promise<StoredFragmentMeta | undefined> {
    const entry = this.#lookup(id, options)
    return entry === undefined ? undefined : { claims: entry.meta.claims.map(c => ({ ...c })), storedAt: entry.meta.storedAt, size: entry.meta.size }
  }

  /** @inheritDoc — synchronous from lookup to write, so nothing interleaves. */
  async updateClaims (id: FragmentId, update: ClaimsUpdate, options: AbortOptions = {}): Promise<FragmentClaim[] | undefined> {
    const entry = this.#lookup(id, options)
    if (entry === undefined) return undefined
    const claims = checkClaims(id, update(entry.meta.claims.map(c => ({ ...c }))))
    if (claims.length === 0) this.#remove(id, entry)
    else entry.meta.claims = claims
    return claims.map(c => ({ ...c }))
  }

  /** @inheritDoc */
  async * list (options: AbortOptions = {}): AsyncGenerator<FragmentEntry> {
    this.#assertOpen()
    for (const [id, e] of [...this.#entries]) {
      throwIfAborted(options.signal)
      yield { id, size: e.bytes.byteLength, claims: e.meta.claims.map(c => ({ ...c })) }
    }
  }

  /** @inheritDoc */
  async delete (id: FragmentId, options: AbortOptions = {}): Promise<boolean> {
    const entry = this.#lookup(id, options)
    if (entry === undefined) return false
    this.#remove(id, entry)
    return true
  }

  /** @inheritDoc */
  async stat (): Promise<StoreStat> {
    this.#assertOpen()
    return { capacity: this.#quota, used: this.#used, free: this.#quota - this.#used, count: this.#entries.size }
  }

  /** @inheritDoc */
  async close (): Promise<void> {
    this.#closed = true
    this.#entries.clear()
    this.#used = 0
  }

  /**
   * Test hook: flips one bit of a stored fragment, as bit rot would, so tests can exercise the
   * corrupt-on-read path. Returns false when the fragment is not held.
   */
  corruptForTesting (id: FragmentId): boolean {
    const entry = this.#entries.get(id)
    if (entry === undefined) return false
    entry.bytes[0] = (entry.bytes[0] ?? 0) ^ 1
    return true
  }

  #lookup (id: FragmentId, options: AbortOptions): Entry | undefined {
    this.#assertOpen()
    assertFragmentId(id)
    throwIfAborted(options.signal)
    return this.#entries.get(id)
  }

  #remove (id: FragmentId, entry: Entry): void {
    this.#entries.delete(id)
    this.#used -= entry.bytes.byteLength
  }

  #assertOpen (): void {
    if (this.#closed) throw new StoreClosedError()
  }
}
