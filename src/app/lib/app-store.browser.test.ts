import { deleteDB, openDB } from 'idb'
import { afterEach, describe, expect, it } from 'vitest'
import { takeLegacyDatabase } from './app-store.ts'

const databases = async (): Promise<string[]> => (await indexedDB.databases()).map(d => d.name!)
const NAME = 'shardfarm-legacy-test'

// In Chromium: real IndexedDB.
afterEach(async () => { await deleteDB(NAME) })

describe('taking over an earlier version\'s database', () => {
  it('does nothing for a database this browser never had, and does not create it', async () => {
    const calls: string[] = []
    await takeLegacyDatabase(NAME, async () => { calls.push('read') }, async () => { calls.push('keep') })
    expect(calls).toEqual([])
    expect(await databases()).not.toContain(NAME)
  })

  it('deletes the old database only once what it held is kept, so a failure loses nothing', async () => {
    const old = await openDB(NAME, 1, { upgrade (db) { db.createObjectStore('things') } })
    await old.put('things', 'precious', 'k')
    old.close()
    const read = async (db: Awaited<ReturnType<typeof openDB>>): Promise<unknown> => await db.get('things', 'k')

    const failing = takeLegacyDatabase(NAME, read, async () => { throw new Error('the new store is full') })
    await expect(failing).rejects.toThrow('the new store is full')
    const kept: unknown[] = []
    await takeLegacyDatabase(NAME, read, async v => { kept.push(v) })
    expect(kept).toEqual(['precious'])
    await expect.poll(databases).not.toContain(NAME)
  })
})
