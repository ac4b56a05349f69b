import { deleteDB } from 'idb'
import { describe, expect, it } from 'vitest'
import { runKeyValueStoreTests } from './conformance.ts'
import { IdbKeyValueStore } from './idb.ts'

// In Chromium (vitest.browser.config.ts): real IndexedDB, a database of its own per test.
let name: string | undefined
runKeyValueStoreTests('IdbKeyValueStore',
  async () => await IdbKeyValueStore.open(name ??= `kv-test-${crypto.randomUUID()}`),
  async () => { await deleteDB(name!); name = undefined })

describe('IdbKeyValueStore in a browser', () => {
  it('lets another tab delete its database, and carries on with a fresh one', async () => {
    const db = `kv-test-${crypto.randomUUID()}`
    const store = await IdbKeyValueStore.open(db)
    await store.save(['k'], Uint8Array.of(1))
    // Resolves only once every open connection has closed: a store holding on would block it forever.
    await deleteDB(db)
    expect(await store.load(['k'])).toBeUndefined()
    await store.save(['k'], Uint8Array.of(2))
    expect(await store.load(['k'])).toEqual(Uint8Array.of(2))
    await store.close()
    await deleteDB(db)
  })
})
