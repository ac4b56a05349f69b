// What the keeper audits once repairs moved copies: the new holders, not the farmers gone for good
// (probed now and then only, to count their copies again if they come back); and the repair
// journal a killed keeper settles from.
import { describe, expect, it } from 'vitest'
import type { VerifyManifest } from '../core/manifest.ts'
import { MemoryKeyValueStore } from '../stores/kv/memory.ts'
import { copyKey, knownCopies, sample, tally, type FarmerView } from './copies.ts'
import { KeeperState, MAX_PENDING_PER_FILE, type FileRecord } from './state.ts'

/** One segment of 2 + 1 fragments (a, b, c) on farmers p, q, r. */
const manifest = {
  segments: [{ fragments: ['a', 'b', 'c'], holders: [['p'], ['q'], ['r']], shardLength: 10 }]
} as unknown as VerifyManifest

const HOUR = 3_600_000
const view = (silent: Record<string, number>, now: number, goneProbeMs?: number): FarmerView =>
  ({ silent: new Map(Object.entries(silent)), now, graceMs: HOUR, ...(goneProbeMs !== undefined ? { goneProbeMs } : {}) })

describe('keeper audits after repairs', () => {
  // p went silent at 0 and is gone after an hour; a repair put fragment a on s.
  const record: FileRecord = {
    copies: [{ id: 'a', peer: 's' }],
    audits: { 'a p': { at: 2 * HOUR, verdict: 'unreachable' }, 'a s': { at: 2 * HOUR, verdict: 'proven' }, 'b q': { at: 2 * HOUR, verdict: 'proven' }, 'c r': { at: 2 * HOUR, verdict: 'proven' } }
  }
  const copies = knownCopies('f', manifest, [], record.copies).filter(c => c.segment >= 0)
  const records = new Map([['f', record]])

  it('audits the repair\'s new holder and counts it, not the farmer gone for good', () => {
    const v = view({ p: 0 }, 2 * HOUR + 60_000, 6 * HOUR)
    const picked = sample(copies, records, v, 10).map(copyKey)
    expect(picked).toContain('a s')
    expect(picked).not.toContain('a p') // gone, and probed 1 min ago: not again for 6 h
    expect(tally(manifest, copies, record, v).segments).toEqual([3])
    // Without the new holder the segment is short of one: the repair is what made it whole.
    expect(tally(manifest, copies.filter(c => c.peer !== 's'), record, v).segments).toEqual([2])
  })

  it('still probes a gone farmer once every goneProbeMs, so a copy that comes back counts again', () => {
    expect(sample(copies, records, view({ p: 0 }, 8 * HOUR + 1, 6 * HOUR), 10).map(copyKey)).toContain('a p')
    // The default is the grace period.
    expect(sample(copies, records, view({ p: 0 }, 2 * HOUR + HOUR / 2), 10).map(copyKey)).not.toContain('a p')
    expect(sample(copies, records, view({ p: 0 }, 3 * HOUR), 10).map(copyKey)).toContain('a p')
  })

  it('probes a farmer within its grace period every round', () => {
    const recent: FileRecord = { ...record, audits: { ...record.audits, 'a p': { at: 2 * HOUR, verdict: 'unreachable' } } }
    const v = view({ p: 2 * HOUR }, 2 * HOUR + 60_000, 6 * HOUR)
    expect(sample(copies, new Map([['f', recent]]), v, 10).map(copyKey)[0]).toBe('a p')
  })
})

describe('keeper repair journal', () => {
  it('is on disk before journal() returns, survives a reload, and is bounded', async () => {
    const kv = new MemoryKeyValueStore()
    const state = new KeeperState(kv)
    const record = await state.file('f')
    await Promise.all([
      state.journal('f', record, { id: 'a', peer: 's' }, 5),
      state.journal('f', record, { id: 'b', peer: 't' }, 6),
      state.journal('f', record, { id: 'a', peer: 's' }, 7) // already journaled: once
    ])
    // A second keeper on the same store (a restart) sees every intent.
    const again = await new KeeperState(kv).file('f')
    expect(again.pending).toEqual([{ id: 'a', peer: 's', at: 5 }, { id: 'b', peer: 't', at: 6 }])
    const full: FileRecord = { copies: [], audits: {}, pending: Array.from({ length: MAX_PENDING_PER_FILE }, (_, i) => ({ id: `x${i}`, peer: 'p', at: 1 })) }
    await expect(state.journal('g', full, { id: 'y', peer: 'p' })).rejects.toThrow(RangeError)
  })
})
