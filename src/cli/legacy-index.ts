/**
 * The CLI's file index before the `KeyValueStore`: one JSON array in `index.json` under the client
 * home, rewritten whole on every change. `importLegacyIndex` moves it into the `OwnerIndex` once.
 */
import { readFile, rename } from 'node:fs/promises'
import type { KeyValueStore } from '../core/key-value-store.ts'
import { OwnerIndex } from '../client/owner-index.ts'

/** What the old index file is renamed to once imported: kept, as a backup, but never read again. */
export const IMPORTED_SUFFIX = '.imported'

/**
 * Adds the entries of the old index file at `path` (e.g. `<home>/index.json`) to the owner index
 * in `kv`, then renames the file to `<path>.imported`, so the import happens once. Files already in
 * the index keep their entries. Nothing happens when there is no such file; an unreadable one is
 * left where it is and throws (it holds owner keys: it must not be set aside unread).
 * @returns how many entries were added
 */
export async function importLegacyIndex (kv: KeyValueStore, path: string): Promise<number> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  const added = await new OwnerIndex(kv).importEntries(JSON.parse(text))
  // Another process importing at the same time may have renamed it first: the entries are in.
  await rename(path, path + IMPORTED_SUFFIX).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
  return added
}
