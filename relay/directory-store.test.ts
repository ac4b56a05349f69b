// The in-memory directory with an injected clock: expiry, bounds, ordering and replay refusal.
import { describe, expect, it } from 'vitest'
import type { FarmerRecord } from '../src/net/protocols/directory.ts'
import { MemoryDirectoryStore } from './directory-store.ts'

const SIGNED = { record: '{}', sig: '00' }
const rec = (peerId: string, over: Partial<FarmerRecord> = {}): FarmerRecord => ({
  peerId, addrs: [], region: 'eu-west', tier: 'live', kind: 'full', capacity: 100, free: 50, version: '1', seq: 1, ...over
})

describe('MemoryDirectoryStore', () => {
  it('drops an entry once its TTL passes without a heartbeat, and keeps a refreshed one', () => {
    let now = 1_000
    const dir = new MemoryDirectoryStore({ ttlMs: 100, now: () => now })
    dir.upsert(rec('a'), SIGNED)
    dir.upsert(rec('b'), SIGNED)
    now += 60
    dir.upsert(rec('b', { seq: 2 }), SIGNED)
    now += 60
    expect(dir.query({}).map(l => l.peerId)).toEqual(['b'])
    expect(dir.size).toBe(1)
    expect(dir.records()).toEqual([SIGNED])
  })

  it('refuses a record whose seq is not newer while the entry lives, but not after it expired', () => {
    let now = 0
    const dir = new MemoryDirectoryStore({ ttlMs: 100, now: () => now })
    dir.upsert(rec('a', { seq: 5, free: 10 }), SIGNED)
    expect(() => { dir.upsert(rec('a', { seq: 5, free: 99 }), SIGNED) }).toThrow(expect.objectContaining({ code: 'STALE_RECORD' }))
    expect(dir.query({})[0]!.free).toBe(10)
    now = 500
    dir.upsert(rec('a', { seq: 3 }), SIGNED)
    expect(dir.query({})).toHaveLength(1)
  })

  it('bounds the number of entries with DIRECTORY_FULL, counting expired ones as free', () => {
    let now = 0
    const dir = new MemoryDirectoryStore({ ttlMs: 100, maxEntries: 2, now: () => now })
    dir.upsert(rec('a'), SIGNED)
    dir.upsert(rec('b'), SIGNED)
    expect(() => { dir.upsert(rec('c'), SIGNED) }).toThrow(expect.objectContaining({ name: 'DirectoryError', code: 'DIRECTORY_FULL' }))
    dir.upsert(rec('a', { seq: 2 }), SIGNED) // a refresh is not a new entry
    now = 200
    dir.upsert(rec('c'), SIGNED)
    expect(dir.query({}).map(l => l.peerId)).toEqual(['c'])
  })

  it('filters by region set, tier, kind and free space, largest free first, up to the limit', () => {
    const dir = new MemoryDirectoryStore()
    dir.upsert(rec('a', { region: 'eu-west', free: 10 }), SIGNED)
    dir.upsert(rec('b', { region: 'us-east', free: 30 }), SIGNED)
    dir.upsert(rec('c', { region: 'eu-central', free: 20, tier: 'archive' }), SIGNED)
    dir.upsert(rec('d', { region: 'eu-west', free: 40, kind: 'light' }), SIGNED)
    expect(dir.query({}).map(l => l.peerId)).toEqual(['d', 'b', 'c', 'a'])
    expect(dir.query({ regions: ['eu-west', 'eu-central'] }).map(l => l.peerId)).toEqual(['d', 'c', 'a'])
    expect(dir.query({ tier: 'live', kind: 'full' }).map(l => l.peerId)).toEqual(['b', 'a'])
    expect(dir.query({ minFree: 25, limit: 1 }).map(l => l.peerId)).toEqual(['d'])
  })
})
