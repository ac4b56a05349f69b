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

  it('filters by region set, tier, kind and free space, in peer id order, after a cursor, up to the limit', () => {
    const dir = new MemoryDirectoryStore()
    dir.upsert(rec('d', { region: 'eu-west', free: 40, kind: 'light' }), SIGNED)
    dir.upsert(rec('b', { region: 'us-east', free: 30 }), SIGNED)
    dir.upsert(rec('a', { region: 'eu-west', free: 10 }), SIGNED)
    dir.upsert(rec('c', { region: 'eu-central', free: 20, tier: 'archive' }), SIGNED)
    expect(dir.query({}).map(l => l.peerId)).toEqual(['a', 'b', 'c', 'd'])
    expect(dir.query({ regions: ['eu-west', 'eu-central'] }).map(l => l.peerId)).toEqual(['a', 'c', 'd'])
    expect(dir.query({ tier: 'live', kind: 'full' }).map(l => l.peerId)).toEqual(['a', 'b'])
    expect(dir.query({ minFree: 25, limit: 1 }).map(l => l.peerId)).toEqual(['b'])
    expect(dir.query({ after: 'b', limit: 1 }).map(l => l.peerId)).toEqual(['c'])
    expect(dir.query({ after: 'd' })).toEqual([])
  })

  it('refuses a listed farmer\'s announces beyond 4 at once and 1 a second with BUSY', () => {
    let now = 0
    const dir = new MemoryDirectoryStore({ now: () => now })
    let seq = 1
    for (let i = 0; i < 4; i++) dir.upsert(rec('a', { seq: seq++ }), SIGNED)
    expect(() => { dir.upsert(rec('a', { seq: seq++ }), SIGNED) }).toThrow(expect.objectContaining({ code: 'BUSY', details: expect.objectContaining({ reason: 'peer' }) }))
    now += 1_000
    dir.upsert(rec('a', { seq: seq++ }), SIGNED)
    expect(() => { dir.upsert(rec('a', { seq: seq++ }), SIGNED) }).toThrow(expect.objectContaining({ code: 'BUSY' }))
    // A heartbeat of 1 s (the test grids'), with jitter, never runs dry.
    dir.upsert(rec('b', { seq: 1 }), SIGNED)
    for (let i = 0; i < 50; i++) { now += i % 2 === 0 ? 800 : 1_200; dir.upsert(rec('b', { seq: i + 2 }), SIGNED) }
    expect(dir.query({}).find(l => l.peerId === 'b')!.seq).toBe(51)
  })

  it('lets at most 64 new peer ids a minute in from one network, counting neither refreshes nor other networks', () => {
    let now = 0
    const dir = new MemoryDirectoryStore({ ttlMs: 120_000, now: () => now })
    const lan = { subnet: '192.0.2.0/24' }
    for (let i = 0; i < 64; i++) dir.upsert(rec(`p${i}`), SIGNED, lan)
    expect(() => { dir.upsert(rec('late'), SIGNED, lan) }).toThrow(expect.objectContaining({
      name: 'DirectoryError', code: 'BUSY', details: expect.objectContaining({ reason: 'subnet', retryAfterMs: 60_000 })
    }))
    dir.upsert(rec('p0', { seq: 2 }), SIGNED, lan) // listed already: a refresh
    dir.upsert(rec('elsewhere'), SIGNED, { subnet: '198.51.100.0/24' })
    now += 60_000
    dir.upsert(rec('late'), SIGNED, lan)
    expect(dir.query({ limit: 1000 })).toHaveLength(66)
  })

  it('takes any number of new peer ids when the network budget is turned off (large test grids)', () => {
    const dir = new MemoryDirectoryStore({ subnetNewPeers: { max: Infinity, windowMs: 60_000 } })
    for (let i = 0; i < 500; i++) dir.upsert(rec(`p${i}`), SIGNED, { subnet: '127.0.0.0/24' })
    expect(dir.size).toBe(500)
  })

  it('lets at most 512 new peer ids an hour in from one network, however the minutes are spread', () => {
    let now = 0
    const dir = new MemoryDirectoryStore({ ttlMs: 7_200_000, now: () => now })
    const lan = { subnet: '192.0.2.0/24' }
    for (let i = 0; i < 512; i++) { if (i % 64 === 0) now += 60_000; dir.upsert(rec(`p${i}`), SIGNED, lan) }
    now += 60_000
    expect(() => { dir.upsert(rec('late'), SIGNED, lan) }).toThrow(expect.objectContaining({ code: 'BUSY', details: expect.objectContaining({ reason: 'subnet' }) }))
    now += 3_600_000
    dir.upsert(rec('late'), SIGNED, lan)
  })

  it('a leave refuses older records, from gossip or a replayed announce, until a newer one comes', () => {
    let now = 10_000
    const dir = new MemoryDirectoryStore({ ttlMs: 1_000, now: () => now })
    dir.upsert(rec('a', { seq: 9_000 }), SIGNED)
    expect(dir.tombstone('a', 8_000)).toBe(false) // older than the record held
    expect(dir.tombstone('a', 9_500)).toBe(true)
    expect(dir.query({})).toEqual([])
    expect(() => { dir.learn(rec('a', { seq: 9_400 }), SIGNED) }).toThrow(expect.objectContaining({ code: 'STALE_RECORD' }))
    expect(() => { dir.upsert(rec('a', { seq: 9_500 }), SIGNED) }).toThrow(expect.objectContaining({ code: 'STALE_RECORD' }))
    now += 100
    dir.upsert(rec('a', { seq: 10_100 }), SIGNED)
    expect(dir.heldSeq('a')).toBe(10_100)
  })

  it('expires a record learned from another relay at seq + ttl, and refuses one already past it', () => {
    let now = 10_000
    const dir = new MemoryDirectoryStore({ ttlMs: 1_000, now: () => now })
    dir.learn(rec('a', { seq: 9_500 }), SIGNED)
    expect(() => { dir.learn(rec('b', { seq: 8_999 }), SIGNED) }).toThrow(expect.objectContaining({ code: 'STALE_RECORD' }))
    dir.learn(rec('c', { seq: 60_000 }), SIGNED) // a clock ahead buys no longer life
    now = 10_501
    expect(dir.query({}).map(l => l.peerId)).toEqual(['c'])
    now = 11_001
    expect(dir.query({})).toEqual([])
  })
})
