/**
 * The app's one `KeyValueStore`: the IndexedDB database `shardfarm`, holding the owner's file
 * index, the light farmer's identity and the upload jobs. Earlier versions kept each of these in a
 * database of its own; `takeLegacyDatabase` moves such a database's content over once.
 */
import { deleteDB, openDB } from 'idb'
import type { IDBPDatabase } from 'idb'
import type { KeyValueStore } from '../../core/key-value-store.ts'
import { IdbKeyValueStore } from '../../stores/kv/idb.ts'

let opened: Promise<KeyValueStore> | undefined

/** The app's store, opened on first use and shared by the whole page. */
export function appStore (): Promise<KeyValueStore> {
  if (opened === undefined) {
    const opening = IdbKeyValueStore.open()
    opening.catch(() => { if (opened === opening) opened = undefined }) // tried again on the next call
    opened = opening
  }
  return opened
}

/**
 * Opens the database `name` of an earlier version, if this browser has one, and gives `read` what
 * it holds; then `keep` puts that in the app's store, and only after it succeeded is the old
 * database deleted. `keep` must do nothing that a second import would undo (add only what is not
 * there yet): a tab closed between the two steps imports again on the next load.
 */
export async function takeLegacyDatabase<T> (name: string, read: (db: IDBPDatabase) => Promise<T>, keep: (value: T) => Promise<void>): Promise<void> {
  let db: IDBPDatabase
  try {
    db = await openDB(name, undefined, {
      // Opening a database that does not exist creates it, empty: abort that, and there is none.
      upgrade (_db, oldVersion, _newVersion, tx) {
        if (oldVersion > 0) return
        tx.done.catch(() => {}) // the abort below rejects it, and the open with it
        tx.abort()
      }
    })
  } catch (err) {
    if ((err as Error).name === 'AbortError') return
    throw err
  }
  let value: T
  try {
    value = await read(db)
  } finally {
    db.close()
  }
  await keep(value)
  // Not awaited: an older version of the app open in another tab holds the database open and would
  // block the deletion (and this caller) until it closes. The content is in the app's store already.
  void deleteDB(name).catch(() => {})
}
