import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FsKeyValueStore } from '../stores/kv/fs.ts'
import { MemoryKeyValueStore } from '../stores/kv/memory.ts'
import { ScoreBook } from './score-book.ts'

const PEER_A = '12D3KooWAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const PEER_B = '12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'

describe('ScoreBook', () => {
  it('scores farmers by their audits and keeps them under [scores, peer]', async () => {
    const kv = new MemoryKeyValueStore()
    const book = await ScoreBook.open(kv)
    for (let i = 0; i < 20; i++) await book.record(PEER_A, true)
    await book.record(PEER_B, true)
    await book.record(PEER_B, false)
    await book.record(PEER_B, false)
    expect(book.trusted(PEER_A)).toBe(true)
    expect(book.trusted(PEER_B)).toBe(false)
    expect(book.weight(PEER_B)).toBe(0)
    expect(book.weight(PEER_A)).toBeGreaterThan(0.9)
    expect(await kv.keys(['scores'])).toEqual([['scores', PEER_A], ['scores', PEER_B]])
    expect(book.snapshot().map(e => [e.peer, e.audits, e.trusted])).toEqual([[PEER_A, 20, true], [PEER_B, 3, false]])
    // A farmer never audited has the prior.
    expect(book.score('12D3KooWCccc')).toBe(1)
  })

  it('forgets the farmer audited least recently past its cap, in memory and in storage', async () => {
    let t = 0
    const kv = new MemoryKeyValueStore()
    const book = await ScoreBook.open(kv, { maxFarmers: 3, now: () => ++t })
    for (const p of ['p1', 'p2', 'p3']) await book.record(p, false)
    await book.record('p1', true) // p1 is now the most recent
    await book.record('p4', true)
    expect(book.snapshot().map(e => e.peer)).toEqual(['p3', 'p1', 'p4'])
    expect((await kv.keys(['scores'])).map(k => k[1])).toEqual(['p1', 'p3', 'p4'])
    expect(book.trusted('p2')).toBe(true) // back to the prior
    const reopened = await ScoreBook.open(kv, { maxFarmers: 2 })
    expect(reopened.snapshot().map(e => e.peer)).toEqual(['p1', 'p4'])
  })

  it('writes a burst of audits of one farmer twice, not once each, and each record waits for a write of it', async () => {
    const kv = new MemoryKeyValueStore()
    const writes: number[] = []
    let release!: () => void
    let gate = new Promise<void>(resolve => { release = resolve })
    const save = kv.save.bind(kv)
    kv.save = async (key, value) => {
      await gate
      writes.push((JSON.parse(new TextDecoder().decode(value)) as { audits: number }).audits)
      await save(key, value)
    }
    const book = await ScoreBook.open(kv)
    const settled: number[] = []
    const records = Array.from({ length: 6 }, async (_, i) => { await book.record(PEER_A, i !== 3); settled.push(i) })
    await new Promise(resolve => setTimeout(resolve, 10))
    expect(settled).toEqual([]) // nothing resolves before its write
    release()
    gate = Promise.resolve()
    await Promise.all(records)
    // The first write holds the first audit; the second, which every later record joined, all six.
    expect(writes).toEqual([1, 6])
    expect((await ScoreBook.open(kv)).reputation(PEER_A).audits).toBe(6)
    // Once idle, the next record writes again on its own.
    await book.record(PEER_A, true)
    expect(writes).toEqual([1, 6, 7])
  })

  it('refuses a peer id that is not a key segment', async () => {
    const book = await ScoreBook.open(new MemoryKeyValueStore())
    await expect(book.record('../etc', true)).rejects.toMatchObject({ name: 'InvalidStorageKeyError' })
    expect(book.size).toBe(0)
  })

  it('survives reopening the files on disk, and drops a damaged entry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'score-book-'))
    try {
      const kv = new FsKeyValueStore(dir)
      const book = await ScoreBook.open(kv)
      await book.record(PEER_A, true)
      await book.record(PEER_B, false)
      await kv.save(['scores', 'broken'], new TextEncoder().encode('{"alpha":"x"}'))
      const again = await ScoreBook.open(new FsKeyValueStore(dir))
      expect(again.trusted(PEER_A)).toBe(true)
      expect(again.trusted(PEER_B)).toBe(false)
      expect(again.reputation(PEER_B).audits).toBe(1)
      expect(again.snapshot().map(e => e.peer)).toEqual([PEER_A, PEER_B])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
