/**
 * `KeyValueStore` in IndexedDB, for the app: one database with one object store whose keys are the
 * storage keys themselves (array keys). IndexedDB orders arrays segment by segment, a key before
 * the longer keys below it, so every key under a prefix lies between `[...prefix]` and
 * `[...prefix, []]` (an array sorts after every string): `keys` and `removeRange` are one range
 * request each, and `removeRange` is atomic.
 *
 * Values are stored as copies made when `save` is called. Storing the caller's array would clone
 * its whole `ArrayBuffer` (a 100-byte view of a 4 MiB buffer would store 4 MiB), and would clone it
 * only once the database is open, after the caller may have reused it.
 *
 * Another tab upgrading or deleting the database sends a `versionchange`: the connection closes at
 * once (or the other side would wait on us forever) and the next call opens the database again.
 */
import { openDB } from 'idb'
import type { IDBPDatabase } from 'idb'
import { checkStorageKey } from '../../core/key-value-store.ts'
import type { KeyValueStore, StorageKey } from '../../core/key-value-store.ts'
import { DiskFullError } from '../../core/store-errors.ts'
import { copyBytes } from './keys.ts'

/** The app's database: the owner's file index, the light farmer's identity, upload jobs. */
export const IDB_KV_DATABASE = 'shardfarm'
const VERSION = 1
const STORE = 'kv'

/** Every key that starts with `prefix`, the prefix itself included. */
function range (prefix: StorageKey): IDBKeyRange {
  return IDBKeyRange.bound([...prefix], [...prefix, []])
}

/** The browser's own limit for the origin becomes `DiskFullError`, as the disk adapter's ENOSPC does. */
function mapError (err: unknown): unknown {
  return err instanceof DOMException && err.name === 'QuotaExceededError' ? new DiskFullError(err.name) : err
}

/** `KeyValueStore` in one IndexedDB database of the page's origin. */
export class IdbKeyValueStore implements KeyValueStore {
  /** The database's name. */
  readonly name: string
  #db: Promise<IDBPDatabase> | undefined
  #closed = false

  private constructor (name: string) {
    this.name = name
  }

  /**
   * Opens (creating when absent) the database `name`.
   * @param name @default IDB_KV_DATABASE ('shardfarm')
   */
  static async open (name = IDB_KV_DATABASE): Promise<IdbKeyValueStore> {
    const store = new IdbKeyValueStore(name)
    await store.#connection()
    return store
  }

  /** @inheritDoc */
  async load (key: StorageKey): Promise<Uint8Array | undefined> {
    checkStorageKey(key)
    const value: unknown = await (await this.#connection()).get(STORE, [...key])
    // Each read is a fresh structured clone: nothing to copy. Anything else is not ours.
    return value instanceof Uint8Array ? value : undefined
  }

  /** @inheritDoc */
  async save (key: StorageKey, value: Uint8Array): Promise<void> {
    checkStorageKey(key)
    const bytes = copyBytes(value)
    const db = await this.#connection()
    await db.put(STORE, bytes, [...key]).catch((err: unknown) => { throw mapError(err) })
  }

  /** @inheritDoc */
  async remove (key: StorageKey): Promise<void> {
    checkStorageKey(key)
    await (await this.#connection()).delete(STORE, [...key])
  }

  /** @inheritDoc */
  async keys (prefix: StorageKey): Promise<StorageKey[]> {
    checkStorageKey(prefix, true)
    return await (await this.#connection()).getAllKeys(STORE, range(prefix)) as string[][]
  }

  /** @inheritDoc */
  async removeRange (prefix: StorageKey): Promise<void> {
    checkStorageKey(prefix, true)
    await (await this.#connection()).delete(STORE, range(prefix))
  }

  /** @inheritDoc */
  async close (): Promise<void> {
    this.#closed = true
    const db = await this.#db?.catch(() => undefined)
    db?.close()
  }

  /** The open connection, opened again after another tab's `versionchange` or an abnormal close. */
  #connection (): Promise<IDBPDatabase> {
    if (this.#closed) return Promise.reject(new DOMException('The key/value store is closed', 'InvalidStateError'))
    if (this.#db !== undefined) return this.#db
    const opening = openDB(this.name, VERSION, {
      upgrade (db) { db.createObjectStore(STORE) },
      blocking (_current, _next, event) {
        // Close synchronously: a deleteDatabase or upgrade elsewhere waits until we do.
        (event.target as IDBDatabase).close()
        forget()
      },
      terminated: () => { forget() }
    })
    const forget = (): void => { if (this.#db === opening) this.#db = undefined }
    opening.catch(forget) // a failed open is tried again on the next call
    this.#db = opening
    return opening
  }
}
