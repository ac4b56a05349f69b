/**
 * The IndexedDB layout of `IdbFragmentStore`, and how its failures map to store errors.
 *
 * Bytes and metadata live in two object stores written in one transaction. They are split so that
 * rebuilding the totals on open reads only the small metadata records: a cursor over one store
 * holding both would load every payload into memory just to learn its size.
 */
import { openDB } from 'idb'
import type { DBSchema, IDBPDatabase } from 'idb'
import { AbortError, ShardfarmError } from '../core/errors.ts'
import { checkClaims, DiskFullError, isOwnerKey, StoreClosedError, UNLEASED } from '../core/fragment-store.ts'
import type { FragmentClaim, FragmentId, StoredFragmentMeta } from '../core/fragment-store.ts'

/** Schema version. A database found at another version was reset or is foreign: see `evicted()`. */
export const DB_VERSION = 1

/** Key of the one record in the `marker` store. */
export const MARKER_KEY = 'marker'

/**
 * What the `meta` store keeps per fragment; `size` is what the quota counts. Records written before
 * claims existed carry `owner` instead of `claims`; that owner reads as one claim with no lease end
 * until the farmer's collector gives it one (`UNLEASED`).
 */
export interface StoredMeta {
  size: number
  storedAt: number
  claims?: FragmentClaim[]
  owner?: string
}

/**
 * Written once, when the database is created. Browsers evict a whole origin's storage at once, so
 * its absence from an open database means the data under us is gone, not that one fragment is.
 */
export interface Marker {
  /** Random id of this database's life: a recreated database gets a new one. */
  token: string
  createdAt: number
}

export interface FarmSchema extends DBSchema {
  fragments: { key: FragmentId, value: Uint8Array }
  meta: { key: FragmentId, value: StoredMeta }
  marker: { key: string, value: Marker }
}

export type FarmDb = IDBPDatabase<FarmSchema>

/** What the store hears about its connection after opening. */
export interface ConnectionEvents {
  /** Another connection asked to delete (`newVersion` null) or upgrade the database; ours is closed. */
  onVersionChange: (newVersion: number | null) => void
  /** The browser closed the connection itself (storage cleared, disk error). */
  onTerminated: () => void
}

/**
 * The browser cleared the database under an open store (eviction, "clear site data", or a
 * `deleteDatabase` from another tab). Everything the store held is gone; the farmer must re-announce
 * its free space and the owners repair from other farmers.
 */
export class StoreEvictedError extends ShardfarmError {
  constructor (database: string) {
    super('StoreEvictedError', 'STORE_EVICTED', 'The browser cleared this fragment store', { database })
  }
}

/** Opens (creating when absent) the database and reads its marker, writing one if missing. */
export async function openFarmDb (name: string, events: ConnectionEvents): Promise<{ db: FarmDb, marker: Marker }> {
  const db = await openDB<FarmSchema>(name, DB_VERSION, {
    upgrade (database, oldVersion, _newVersion, tx) {
      if (oldVersion < 1) {
        database.createObjectStore('fragments')
        database.createObjectStore('meta')
        database.createObjectStore('marker')
        // No await: the upgrade transaction must not wait on anything outside IndexedDB.
        void tx.objectStore('marker').put({ token: crypto.randomUUID(), createdAt: Date.now() }, MARKER_KEY)
      }
    },
    blocking (_current, next, event) {
      // Close synchronously: a pending deleteDatabase or upgrade elsewhere waits until we do.
      (event.target as IDBDatabase).close()
      events.onVersionChange(next)
    },
    terminated () {
      events.onTerminated()
    }
  })
  let marker = await db.get('marker', MARKER_KEY)
  if (marker === undefined) {
    // Stores present but the marker gone: someone emptied them. Start a new life from here.
    marker = { token: crypto.randomUUID(), createdAt: Date.now() }
    await db.put('marker', marker, MARKER_KEY)
  }
  return { db, marker }
}

/** The fragment's metadata, or undefined when the record is not one this store could have written. */
export function parseMeta (id: FragmentId, value: unknown, expectedSize: number | undefined): StoredFragmentMeta | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { size, storedAt, owner, claims } = value as Partial<StoredMeta>
  if (!Number.isSafeInteger(size) || (expectedSize !== undefined && size !== expectedSize)) return undefined
  if (!Number.isSafeInteger(storedAt) || (storedAt ?? -1) < 0) return undefined
  if (claims !== undefined) {
    try {
      return { claims: checkClaims(id, claims), storedAt: storedAt!, size: size! }
    } catch {
      return undefined
    }
  }
  if (owner !== undefined && !isOwnerKey(owner)) return undefined
  return { claims: owner === undefined ? [] : [{ owner, peer: '', expiresAt: UNLEASED }], storedAt: storedAt!, size: size! }
}

/**
 * Translates what IndexedDB throws into the store's errors.
 *
 * - `QuotaExceededError` (a DOMException, not our class of the same name): the browser's own limit
 *   for the origin, i.e. the device is full as far as this page may know. The transaction was
 *   aborted whole, so nothing is half-written; callers see `DiskFullError` like the disk store's
 *   ENOSPC.
 * - `AbortError`: we aborted the transaction for the caller's signal.
 * - `InvalidStateError`: the connection was closed under us (eviction or `close()`).
 */
export function mapIdbError (err: unknown, context: { id?: string, evicted: boolean, database: string }): unknown {
  if (!(err instanceof DOMException)) return err
  if (err.name === 'QuotaExceededError') {
    return new DiskFullError('QuotaExceededError', context.id === undefined ? {} : { id: context.id })
  }
  if (err.name === 'AbortError') return new AbortError()
  if (err.name === 'InvalidStateError') {
    return context.evicted ? new StoreEvictedError(context.database) : new StoreClosedError()
  }
  return err
}
