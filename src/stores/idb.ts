/**
 * `FragmentStore` in IndexedDB, for light farmers: a browser offering part of its storage.
 *
 * The only state kept in memory is an index id → payload size and claims, rebuilt on open from the
 * `meta` store, so the totals cannot drift from the database. The layout is in `idb-schema.ts`.
 *
 * IndexedDB failure paths, and why the code is shaped around them:
 * - A transaction commits on its own as soon as no request is pending at the end of a task. Awaiting
 *   anything that is not an IndexedDB request (hashing with WebCrypto, a lock, a timer) inside one
 *   lets it commit early, and the next request throws `TransactionInactiveError`. So every put
 *   hashes first, takes its lock and quota reservation, and only then opens one transaction whose
 *   requests are all issued synchronously.
 * - Bytes and metadata are written in that one transaction: an abort (quota, signal, crash) leaves
 *   neither, so nothing is ever half-written and the rebuilt index stays exact.
 * - The browser's own limit raises a `QuotaExceededError` DOMException, often only at commit; it
 *   becomes `DiskFullError`, as the disk store's ENOSPC does.
 * - The browser may evict the origin's storage, or another tab may delete the database. We hear a
 *   `versionchange` (and must close at once, or the deletion waits on us forever) or an abnormal
 *   close. From then on every call rejects with `StoreEvictedError` and `onEvicted` has been called.
 */
import { throwIfAborted } from '../core/errors.ts'
import {
  assertFragmentId, CorruptFragmentError, FragmentNotFoundError, mergeClaims, StoreClosedError,
  verifyPut
} from '../core/fragment-store.ts'
import type {
  AbortOptions, ClaimsUpdate, FragmentClaim, FragmentEntry, FragmentId, FragmentMeta, FragmentStore, StoredFragmentMeta,
  StoreStat
} from '../core/fragment-store.ts'
import { sha256Hex } from '../core/hash.ts'
import { StoreLedger } from './ledger.ts'
import type { LedgerEntry } from './ledger.ts'
import { DB_VERSION, MARKER_KEY, mapIdbError, openFarmDb, parseMeta, StoreEvictedError } from './idb-schema.ts'
import type { FarmDb, Marker, StoredMeta } from './idb-schema.ts'

export { StoreEvictedError } from './idb-schema.ts'

/** Default offer of a light farmer: 1 GiB. The Farm view lets the person choose. */
export const IDB_STORE_QUOTA = 1024 ** 3

/** Options of `IdbFragmentStore.open`. */
export interface IdbFragmentStoreInit {
  /**
   * The farmer's offer: most payload bytes the store accepts. The browser's own limit for the
   * origin may be lower; crossing that one gives `DiskFullError`.
   * @default IDB_STORE_QUOTA (1 GiB)
   */
  quota?: number
  /**
   * Called once when the browser clears the database under the open store.
   * @default undefined (poll `evicted()` instead)
   */
  onEvicted?: () => void
}

/** `FragmentStore` in one IndexedDB database of the page's origin. */
export class IdbFragmentStore implements FragmentStore {
  readonly #name: string
  readonly #db: FarmDb
  readonly #marker: Marker
  /** Sizes, quota and per-id ordering: put, delete and the corrupt drop of one id never interleave. */
  readonly #ledger: StoreLedger
  readonly #onEvicted: (() => void) | undefined
  #closed = false
  #evicted = false

  private constructor (name: string, db: FarmDb, marker: Marker, index: Map<FragmentId, LedgerEntry>, init: IdbFragmentStoreInit) {
    this.#name = name
    this.#db = db
    this.#marker = marker
    this.#ledger = new StoreLedger(init.quota ?? IDB_STORE_QUOTA, index)
    this.#onEvicted = init.onEvicted
  }

  /**
   * Opens (creating if needed) the database `name` and rebuilds the totals from it. A quota below
   * what is already stored is allowed: puts are refused until deletes bring `used` under it.
   */
  static async open (name: string, init: IdbFragmentStoreInit = {}): Promise<IdbFragmentStore> {
    let store: IdbFragmentStore | undefined
    const { db, marker } = await openFarmDb(name, {
      onVersionChange: next => { if (store !== undefined) store.#lost(next === null) },
      onTerminated: () => { if (store !== undefined) store.#lost(true) }
    })
    try {
      store = new IdbFragmentStore(name, db, marker, await readIndex(db), init)
    } catch (err) {
      db.close()
      throw err
    }
    return store
  }

  /** @inheritDoc */
  async put (id: FragmentId, bytes: Uint8Array, meta?: FragmentMeta, options: AbortOptions = {}): Promise<void> {
    this.#assertOpen()
    const stored = await verifyPut(id, bytes, meta, options.signal)
    await this.#ledger.exclusive(id, async () => {
      this.#assertOpen()
      const held = this.#ledger.meta(id)
      if (held !== undefined) {
        const claims = mergeClaims(id, held.claims, stored.claims)
        await this.#writeMeta(id, { size: bytes.byteLength, storedAt: held.storedAt, claims })
        this.#ledger.setClaims(id, claims)
        return
      }
      await this.#ledger.admit(id, bytes.byteLength, stored, async () => {
        await this.#write(id, bytes, stored, options.signal)
      })
    })
  }

  /** @inheritDoc */
  async updateClaims (id: FragmentId, update: ClaimsUpdate, options: AbortOptions = {}): Promise<FragmentClaim[] | undefined> {
    this.#check(id, options)
    return await this.#ledger.exclusive(id, async () => {
      this.#assertOpen()
      return await this.#ledger.updateClaims(id, update, { remove: async () => { await this.#remove(id) }, persist: async (claims, held) => { await this.#writeMeta(id, { size: held.size, storedAt: held.storedAt, claims }) } })
    })
  }

  /** @inheritDoc */
  async * list (options: AbortOptions = {}): AsyncGenerator<FragmentEntry> {
    this.#assertOpen()
    yield * this.#ledger.entries(options.signal)
  }

  /** @inheritDoc */
  async get (id: FragmentId, options: AbortOptions = {}): Promise<Uint8Array> {
    this.#check(id, options)
    if (!this.#ledger.has(id)) throw new FragmentNotFoundError(id)
    const read = async (): Promise<Uint8Array | undefined> => {
      const bytes = await this.#call(() => this.#db.get('fragments', id), id)
      // Hashed after the read transaction is over: it has nothing left to keep open.
      return bytes instanceof Uint8Array && await sha256Hex(bytes) === id ? bytes : undefined
    }
    // Each read is a fresh structured clone, so the caller owns what it gets.
    return await read() ?? await this.#dropUnless(id, read)
  }

  /** @inheritDoc */
  async has (ids: FragmentId[], options: AbortOptions = {}): Promise<boolean[]> {
    this.#assertOpen()
    throwIfAborted(options.signal)
    ids.forEach(id => { assertFragmentId(id) })
    return ids.map(id => this.#ledger.has(id))
  }

  /** @inheritDoc — from memory: records are checked when the store opens, and unsound ones dropped. */
  async meta (id: FragmentId, options: AbortOptions = {}): Promise<StoredFragmentMeta | undefined> {
    this.#check(id, options)
    return this.#ledger.meta(id)
  }

  /** @inheritDoc */
  async delete (id: FragmentId, options: AbortOptions = {}): Promise<boolean> {
    this.#check(id, options)
    return await this.#ledger.exclusive(id, async () => {
      this.#assertOpen()
      if (!this.#ledger.has(id)) return false
      await this.#remove(id)
      return true
    })
  }

  /** @inheritDoc */
  async stat (): Promise<StoreStat> {
    this.#assertOpen()
    return this.#ledger.stat()
  }

  /** @inheritDoc */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#ledger.settled()
    this.#db.close()
  }

  /**
   * Whether the browser cleared this store's data since it was opened: the connection was closed
   * for a deletion or by the browser, the marker written at creation is gone or replaced, or the
   * database no longer exists at this version. Rejects with `StoreClosedError` after `close()`.
   */
  async evicted (): Promise<boolean> {
    if (this.#closed) throw new StoreClosedError()
    if (this.#evicted) return true
    const marker = await this.#db.get('marker', MARKER_KEY).catch(() => undefined)
    const listed = await indexedDB.databases?.().catch(() => undefined)
    const present = listed === undefined || listed.some(d => d.name === this.#name && d.version === DB_VERSION)
    if (this.#evicted || marker?.token !== this.#marker.token || !present) this.#lost(true)
    return this.#evicted
  }

  /**
   * Asks the browser to keep this origin's storage under pressure instead of evicting it, as
   * `navigator.storage.persist()` does; resolves to its answer (false where the API is missing).
   * Chromium decides by engagement (installed app, bookmarks) and never prompts.
   */
  async persist (): Promise<boolean> {
    return await navigator.storage?.persist?.() ?? false
  }

  /** One transaction for bytes and metadata: both or neither. */
  async #write (id: FragmentId, bytes: Uint8Array, meta: StoredMeta, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal) // the last moment an abort costs nothing
    // Structured clone copies the whole underlying buffer, so store an exact, plain copy of a view.
    const whole = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    const tx = this.#call(() => this.#db.transaction(['fragments', 'meta'], 'readwrite'), id)
    const abort = (): void => { tx.abort() }
    signal?.addEventListener('abort', abort, { once: true })
    try {
      await Promise.all([
        tx.objectStore('fragments').put(whole ? bytes : bytes.slice(), id),
        tx.objectStore('meta').put(meta, id),
        tx.done
      ])
    } catch (err) {
      // tx.error holds the real cause (e.g. QuotaExceededError at commit); the requests only
      // report that they were aborted with it.
      throw mapIdbError(tx.error ?? err, { id, evicted: this.#evicted, database: this.#name })
    } finally {
      signal?.removeEventListener('abort', abort)
    }
  }

  /** Replaces the metadata record of a fragment held. */
  async #writeMeta (id: FragmentId, meta: StoredMeta): Promise<void> {
    await this.#call(() => this.#db.put('meta', meta, id), id)
  }

  async #remove (id: FragmentId): Promise<void> {
    const tx = this.#call(() => this.#db.transaction(['fragments', 'meta'], 'readwrite'), id)
    await this.#call(() => Promise.all([tx.objectStore('fragments').delete(id), tx.objectStore('meta').delete(id), tx.done]), id)
    this.#ledger.drop(id)
  }

  /**
   * After a bad read: reads again under the id's lock, since a delete and re-put may have replaced
   * the record meanwhile, and only then drops the fragment as corrupt.
   */
  async #dropUnless<T> (id: FragmentId, read: () => Promise<T | undefined>): Promise<T> {
    return await this.#ledger.exclusive(id, async () => {
      this.#assertOpen()
      if (!this.#ledger.has(id)) throw new FragmentNotFoundError(id)
      const again = await read()
      if (again !== undefined) return again
      await this.#remove(id)
      throw new CorruptFragmentError(id)
    })
  }

  /** Runs an IndexedDB call, translating its failures (sync or async) into store errors. */
  #call<T> (fn: () => T, id?: string): T {
    const map = (err: unknown): unknown => mapIdbError(err, { id, evicted: this.#evicted, database: this.#name })
    try {
      const out = fn()
      return (out instanceof Promise ? out.catch(err => { throw map(err) }) : out) as T
    } catch (err) {
      throw map(err)
    }
  }

  /** The connection is gone: close our end so a deletion can proceed, and tell the farmer. */
  #lost (evicted: boolean): void {
    this.#db.close()
    if (!evicted) { this.#closed = true; return }
    if (this.#evicted) return
    this.#evicted = true
    this.#onEvicted?.()
  }

  #check (id: FragmentId, options: AbortOptions): void {
    this.#assertOpen()
    assertFragmentId(id)
    throwIfAborted(options.signal)
  }

  #assertOpen (): void {
    if (this.#closed) throw new StoreClosedError()
    if (this.#evicted) throw new StoreEvictedError(this.#name)
  }
}

/**
 * Sizes and claims of all stored fragments, from the small metadata records only. A record that is
 * not one this store writes counts with no claims: the farmer's collector then removes it.
 */
async function readIndex (db: FarmDb): Promise<Map<FragmentId, LedgerEntry>> {
  const index = new Map<FragmentId, LedgerEntry>()
  let cursor = await db.transaction('meta').store.openCursor()
  while (cursor !== null) {
    const value: unknown = cursor.value
    const size = (value as { size?: unknown } | null)?.size
    if (Number.isSafeInteger(size) && (size as number) > 0) {
      const meta = parseMeta(cursor.key, value, undefined) ?? { claims: [], storedAt: 0, size: size as number }
      index.set(cursor.key, meta)
    }
    cursor = await cursor.continue()
  }
  return index
}
