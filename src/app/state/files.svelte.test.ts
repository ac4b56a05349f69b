import 'fake-indexeddb/auto'
import { describe, it, expect } from 'vitest'
import { Files, type MyFile } from './files.svelte.ts'

const file = (id: string, createdAt: number): MyFile => ({
  manifestId: id.repeat(64).slice(0, 64), name: `${id}.bin`, size: 10, link: `shardfarm:r1:x:${id}`, policy: 'live', ownerSeed: 'AAAA', createdAt
})

describe('Files (rune state over IndexedDB)', () => {
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
  })
})
