/**
 * IdbFragmentStore in Chromium (`npm run test:browser`): the shared conformance suite, then what
 * only a browser does: the offered quota across a reopen, eviction by another connection, and the
 * browser's own storage limit. Persistence across a page reload is in e2e/idb-store.spec.ts.
 */
import { deleteDB, openDB } from 'idb'
import { afterEach, describe, expect, it } from 'vitest'
import { cdp } from 'vitest/browser'
import type { FragmentId } from '../core/fragment-store.ts'
import { fragment, runFragmentStoreTests } from './conformance.ts'
import { IdbFragmentStore } from './idb.ts'

const KiB = 1024
const MiB = 1024 * KiB

let dbSeq = 0
const uniqueName = (prefix: string): string => `${prefix}-${Date.now()}-${dbSeq++}`

runFragmentStoreTests('IdbFragmentStore', async ({ quota }) => {
  const name = uniqueName('conformance')
  const store = await IdbFragmentStore.open(name, { quota })
  return {
    store,
    cleanup: async () => { await store.close(); await deleteDB(name) },
    // Bit rot below the store's API: a second connection rewrites the stored bytes.
    corrupt: async (id: FragmentId) => {
      const raw = await openDB(name)
      try {
        const bytes = await raw.get('fragments', id) as Uint8Array
        bytes[0] = (bytes[0] ?? 0) ^ 1
        await raw.put('fragments', bytes, id)
      } finally {
        raw.close()
      }
    }
  }
})

describe('IdbFragmentStore in Chromium', () => {
  const opened: IdbFragmentStore[] = []
  const names: string[] = []

  /** A store on a fresh database, closed and deleted after the test. */
  async function open (name: string, quota: number, onEvicted?: () => void): Promise<IdbFragmentStore> {
    if (!names.includes(name)) names.push(name)
    const store = await IdbFragmentStore.open(name, { quota, onEvicted })
    opened.push(store)
    return store
  }

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close()
    for (const name of names.splice(0)) await deleteDB(name)
  })

  async function putRandom (store: IdbFragmentStore, size: number): Promise<FragmentId> {
    const f = await fragment(size)
    await store.put(f.id, f.bytes)
    return f.id
  }

  it('refuses the put that would exceed the offered quota, and a reopened store is just as full', async () => {
    const name = uniqueName('quota')
    const store = await open(name, 10 * KiB)
    await putRandom(store, 6 * KiB)
    await expect(putRandom(store, 5 * KiB)).rejects.toMatchObject({
      name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED', details: { quota: 10 * KiB, used: 6 * KiB, needed: 5 * KiB }
    })
    await putRandom(store, 4 * KiB)

    // The totals are rebuilt from the database, so a reopened store is just as full.
    await store.close()
    const reopened = await open(name, 10 * KiB)
    expect(await reopened.stat()).toEqual({ capacity: 10 * KiB, used: 10 * KiB, free: 0, count: 2 })
    await expect(putRandom(reopened, 1)).rejects.toMatchObject({ name: 'QuotaExceededError', code: 'QUOTA_EXCEEDED' })
  })

  it('reports eviction when another connection deletes the database', async () => {
    const name = uniqueName('evict')
    let calls = 0
    const store = await open(name, MiB, () => { calls++ })
    await putRandom(store, KiB)
    expect({ evicted: await store.evicted(), calls }).toEqual({ evicted: false, calls: 0 })

    // Resolves only once the deletion went through: a store that kept its connection open would
    // leave it blocked. (Any connection of the origin counts, as another tab's would.)
    const outcome = await new Promise<string>(resolve => {
      const req = indexedDB.deleteDatabase(name)
      req.onsuccess = () => { resolve('deleted') }
      req.onerror = () => { resolve(`error ${String(req.error)}`) }
      req.onblocked = () => { resolve('blocked') }
    })
    expect(outcome).toBe('deleted')

    expect({ evicted: await store.evicted(), calls }).toEqual({ evicted: true, calls: 1 })
    await expect(putRandom(store, 2)).rejects.toMatchObject({ name: 'StoreEvictedError', code: 'STORE_EVICTED' })
  })

  it('maps the browser\'s own storage limit to DISK_FULL, with nothing half-written', async () => {
    // Chromium's own quota for the origin, shrunk through DevTools to 256 KiB, far below the
    // farmer's offer of 64 MiB. (navigator.storage.estimate() does not show the override; writes obey it.)
    const session = cdp()
    const origin = location.origin
    const name = uniqueName('full')
    // Chromium lets IndexedDB writes through on the space it last learnt of for up to 30 s
    // (BucketContext::kBucketSpaceCacheTimeLimit), so after the cases above the override would not
    // bite yet. Clearing the origin's IndexedDB (every store here is closed) starts that afresh.
    await session.send('Storage.clearDataForOrigin', { origin, storageTypes: 'indexeddb' })
    await session.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 256 * KiB })
    try {
      const store = await open(name, 64 * MiB)
      const held = await putRandom(store, KiB)
      const before = await store.stat()
      await expect(putRandom(store, 4 * MiB)).rejects.toMatchObject({ name: 'DiskFullError', code: 'DISK_FULL' })
      expect(await store.stat()).toEqual(before)
      // Totals rebuilt from the database agree: the aborted transaction left no record behind.
      await store.close()
      const reopened = await open(name, 64 * MiB)
      expect(await reopened.stat()).toEqual(before)
      expect(await reopened.has([held])).toEqual([true])
    } finally {
      await session.send('Storage.overrideQuotaForOrigin', { origin })
    }
    // With the browser's room back, the same size fits: the refusal was the browser's, not ours.
    await putRandom(opened.at(-1)!, 4 * MiB)
  })
})
