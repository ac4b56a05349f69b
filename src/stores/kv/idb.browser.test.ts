import { deleteDB } from 'idb'
import { runKeyValueStoreTests } from './conformance.ts'
import { IdbKeyValueStore } from './idb.ts'

// In Chromium (vitest.browser.config.ts): real IndexedDB, a database of its own per test.
let name: string | undefined
runKeyValueStoreTests('IdbKeyValueStore',
  async () => await IdbKeyValueStore.open(name ??= `kv-test-${crypto.randomUUID()}`),
  async () => { await deleteDB(name!); name = undefined })
