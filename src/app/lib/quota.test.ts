import { describe, expect, it } from 'vitest'
import { MIN_OFFER, nearestStep, quotaSteps, offerMax } from './quota.ts'

const MiB = 1024 * 1024

describe('quotaSteps', () => {
  it('moves in steps of about a fifth from 64 MiB up to exactly what the browser allows', () => {
    const steps = quotaSteps(10_000 * MiB + 12345, 256 * MiB)
    expect(steps[0]).toBe(MIN_OFFER)
    expect(steps.slice(0, 5)).toEqual([64, 76, 91, 108, 128].map(m => m * MiB))
    expect(steps.at(-1)).toBe(10_000 * MiB) // the whole room, rounded down to MiB
    for (let i = 1; i < steps.length; i++) {
      expect(steps[i]! % MiB).toBe(0)
      const r = steps[i]! / steps[i - 1]!
      expect(r).toBeGreaterThan(1)
      expect(r).toBeLessThanOrEqual(1.2)
    }
    expect(steps).toContain(256 * MiB)
  })

  it('offers nothing above the room left, except the quota already chosen', () => {
    expect(quotaSteps(100 * MiB, 64 * MiB)).toEqual([64, 76, 91, 100].map(m => m * MiB))
    expect(quotaSteps(100 * MiB, 512 * MiB).at(-1)).toBe(512 * MiB)
    expect(quotaSteps(100 * MiB, 512 * MiB).filter(s => s > 100 * MiB)).toEqual([512 * MiB])
  })

  it('is empty when there is no room for the smallest offer, and bounded when the room is unknown', () => {
    expect(quotaSteps(63 * MiB, 0)).toEqual([])
    expect(quotaSteps(undefined, 256 * MiB).at(-1)).toBe(4096 * MiB)
  })
})

describe('nearestStep', () => {
  it('finds the notch closest to a quota', () => {
    const steps = [64, 76, 91, 108, 128].map(m => m * MiB)
    expect(nearestStep(steps, 90 * MiB)).toBe(2)
    expect(nearestStep(steps, 1)).toBe(0)
    expect(nearestStep(steps, 10_000 * MiB)).toBe(4)
  })
})

describe('offerMax', () => {
  it('keeps a tenth of the room for the app itself, counting what the farm already holds as room', () => {
    expect(offerMax(1000 * 2 ** 20, 0)).toBe(900 * 2 ** 20)
    expect(offerMax(600 * 2 ** 20, 400 * 2 ** 20)).toBe(900 * 2 ** 20)
    expect(offerMax(undefined, 5)).toBeUndefined()
    // 70 MiB of room: 63 MiB is below the smallest offer, so the slider offers nothing.
    expect(quotaSteps(offerMax(70 * 2 ** 20, 0), 0)).toEqual([])
  })
})
