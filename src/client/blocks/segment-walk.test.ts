import { describe, expect, it } from 'vitest'
import { POLICIES } from '../../core/policy.ts'
import { IN_FLIGHT_BYTES, segmentsInFlight, walkSegments, type SegmentPass } from './segment-walk.ts'
import type { SegmentRecord } from '../job-store.ts'

const MiB = 1024 * 1024
const segmentOf = (p: { k: number, m: number }, shard = MiB): number => (p.k + p.m) * shard

describe('segments in flight, bounded by bytes', () => {
  it('keeps at most 128 MiB of fragments in flight, and one segment however large', () => {
    expect(IN_FLIGHT_BYTES).toBe(128 * MiB)
    // archive: 64 MiB a segment, so two of the CLI's four; live (18 MiB): the four asked for.
    expect(segmentsInFlight(4, segmentOf(POLICIES.archive))).toBe(2)
    expect(segmentsInFlight(4, segmentOf(POLICIES.live))).toBe(4)
    expect(segmentsInFlight(2, segmentOf(POLICIES.mixed))).toBe(2)
    expect(segmentsInFlight(4, segmentOf({ k: 100, m: 100 }))).toBe(1)
    expect(segmentsInFlight(0, 1)).toBe(1)
    expect(segmentsInFlight(Number.NaN, 1)).toBe(1)
  })

  it('the walk never has more segments in flight than its concurrency', async () => {
    let now = 0
    let peak = 0
    const pass: SegmentPass = {
      concurrency: segmentsInFlight(4, segmentOf(POLICIES.archive)),
      done: () => false,
      fragmentsOf: async s => {
        now++
        peak = Math.max(peak, now)
        return { frags: [], record: { digest: String(s), ciphertextLength: 0, shardLength: 0, fragments: [] } }
      },
      deliver: async (_s, _f, record) => {
        await new Promise(resolve => setTimeout(resolve, 5))
        now--
        return record
      }
    }
    const out = await walkSegments(12, [], pass, { skipped: () => {}, changed: async () => {}, record: async (_s: number, _r: SegmentRecord) => {} })
    expect(out).toHaveLength(12)
    expect(peak).toBe(2)
  })
})
