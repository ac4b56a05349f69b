import 'fake-indexeddb/auto'
import { deleteDB, openDB } from 'idb'
import { describe, it, expect, vi } from 'vitest'
import { Files, type MyFile } from './files.svelte.ts'

// The list is kept without the grid: nothing here connects.
vi.mock('./session.svelte.ts', () => ({ session: {} }))

const file = (id: string, createdAt: number): MyFile => ({
  manifestId: id.repeat(64).slice(0, 64), name: `${id}.bin`, size: 10, link: `shardfarm:r1:x:${id}`, policy: 'live', ownerSeed: 'AAAA', createdAt
})

/** The databases this origin has, by name. */
const databases = async (): Promise<string[]> => (await indexedDB.databases()).map(d => d.name!)

describe('Files (rune state over the app store)', () => {
  it('lists newest first, survives a new instance (a reload), and forgets on request', async () => {
    const a = new Files()
    await a.add(file('a', 1))
    await a.add(file('b', 2))
    expect(a.items.map(f => f.name)).toEqual(['b.bin', 'a.bin'])
    const reloaded = new Files()
    await reloaded.load()
    expect(reloaded.items).toHaveLength(2)
    await reloaded.remove(file('a', 1).manifestId)
    expect(reloaded.items.map(f => f.name)).toEqual(['b.bin'])
    await a.load()
    expect(a.items).toHaveLength(1)
    await a.remove(file('b', 2).manifestId)
  })

  it('takes over the list an earlier version kept in its own database, once, and deletes that database', async () => {
    // The earlier version's database, as it wrote it.
    const old = await openDB('shardfarm-files', 1, { upgrade (db) { db.createObjectStore('files', { keyPath: 'manifestId' }) } })
    await old.put('files', { ...file('c', 3), copies: [{ id: 'f'.repeat(64), peer: '12D3KooWpeer' }] })
    await old.put('files', file('d', 4))
    old.close()
    const files = new Files()
    await files.load()
    expect(files.items.map(f => f.name)).toEqual(['d.bin', 'c.bin'])
    expect(files.items[1]!.copies).toEqual([{ id: 'f'.repeat(64), peer: '12D3KooWpeer' }])
    await expect.poll(databases).not.toContain('shardfarm-files')
    // Forgetting an imported file lasts: the old list is not read again.
    await files.remove(file('c', 3).manifestId)
    const reloaded = new Files()
    await reloaded.load()
    expect(reloaded.items.map(f => f.name)).toEqual(['d.bin'])
    expect(await databases()).not.toContain('shardfarm-files')
    await deleteDB('shardfarm')
  })
})
