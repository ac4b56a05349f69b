// Failover of a fragment whose farmer fails: to a spare, and for the positions a `mixed` policy
// keeps on full farmers, to a full spare only (light farmers only ever add redundancy).
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../core/hash.ts'
import { ownerKeyFromSeed } from '../../core/owner-key.ts'
import type { Placement } from '../../core/placement.ts'
import { FakeGrid } from '../../../test/support/fake-grid.ts'
import type { ErasureCoder } from '../ports.ts'
import { Disperser } from './disperse.ts'

describe('dispersing a segment', () => {
  it('moves a fragment kept on full farmers to a full spare, never to a light one ahead of it', async () => {
    // Four full farmers (F0..F3) and two light ones (L0, L1); positions 0..2 stay on full farmers.
    const grid = FakeGrid.make(6, {} as unknown as ErasureCoder)
    const [f0, f1, f2, f3, l0, l1] = grid.farmers.map(f => f.peerId) as [string, string, string, string, string, string]
    for (const f of grid.farmers.slice(4)) f.kind = 'light'
    const placement: Placement = { segments: [[f0, f1, f2, l0]], spares: [[l1, f3]], eligible: grid.farmers.map(f => f.peerId), onFull: 3 }
    const disperser = new Disperser({ transport: grid, placement, byId: new Map(grid.farmers.map(f => [f.peerId, f])), owner: await ownerKeyFromSeed(new Uint8Array(32).fill(3)) })
    grid.down.add(f1)
    const frags = [1, 2, 3, 4].map(n => new Uint8Array(8).fill(n))
    const ids = await Promise.all(frags.map(async f => await sha256Hex(f)))
    const holders = await disperser.storeSegment(0, frags, ids)
    expect(holders[1]).toEqual([f3])
    // A light position takes the light spare the full one passed over.
    grid.down.add(l0)
    const again = await new Disperser({ transport: grid, placement: { ...placement, spares: [[l1, f3]] }, byId: new Map(grid.farmers.map(f => [f.peerId, f])), owner: await ownerKeyFromSeed(new Uint8Array(32).fill(3)) })
      .storeSegment(0, frags, ids)
    expect(again[1]).toEqual([f3])
    expect(again[3]).toEqual([l1])
  })

  it('asks a farmer that failed for a moment again when no spare is left, and gives up on one that stays down', async () => {
    // Four farmers, four places, no spare: the shape of a mixed upload that fills every place.
    const grid = FakeGrid.make(4, {} as unknown as ErasureCoder)
    const ids4 = grid.farmers.map(f => f.peerId)
    const placement: Placement = { segments: [ids4, ids4], spares: [[], []], eligible: ids4, onFull: 4 }
    const disperser = new Disperser({ transport: grid, placement, byId: new Map(grid.farmers.map(f => [f.peerId, f])), owner: await ownerKeyFromSeed(new Uint8Array(32).fill(3)), retryWaitsMs: [5, 10] })
    const frags = [1, 2, 3, 4].map(n => new Uint8Array(8).fill(n))
    const ids = await Promise.all(frags.map(async f => await sha256Hex(f)))
    // One dial that fails, then answers: the fragment lands on it after a wait.
    grid.flaky.set(ids4[2]!, 1)
    expect(await disperser.storeSegment(0, frags, ids)).toEqual(ids4.map(p => [p]))
    expect(await grid.stores.get(ids4[2]!)!.has([ids[2]!])).toEqual([true])
    // A farmer that failed earlier in the upload is still asked when nothing else is left.
    grid.flaky.set(ids4[3]!, 3)
    await expect(disperser.storeSegment(1, frags, ids)).rejects.toMatchObject({ name: 'FragmentUndeliverableError', details: { fragment: 3 } })
    const next = await disperser.storeSegment(1, frags, ids)
    expect(next[3]).toEqual([ids4[3]])
    // A refusal that will not pass (not a transient failure) is not asked again, in this segment or
    // the next one.
    let calls = 0
    const refusing = { put: async () => { calls++; throw Object.assign(new Error('offer is full'), { code: 'QUOTA_EXCEEDED' }) } }
    const once = new Disperser({ transport: refusing as unknown as FakeGrid, placement, byId: new Map(grid.farmers.map(f => [f.peerId, f])), owner: await ownerKeyFromSeed(new Uint8Array(32).fill(3)), retryWaitsMs: [5, 10] })
    await expect(once.storeSegment(0, frags.slice(0, 1), ids.slice(0, 1))).rejects.toMatchObject({ name: 'FragmentUndeliverableError' })
    await expect(once.storeSegment(1, frags.slice(0, 1), ids.slice(0, 1))).rejects.toMatchObject({ name: 'FragmentUndeliverableError' })
    expect(calls).toBe(1)
  })
})
