import { describe, expect, it } from 'vitest'
import { lossOfMany, meanTimeToLossClosedForm, meanTimeToLossDense, meanTimeToLossYears, nines } from './markov.ts'

describe('the Markov chain of a segment', () => {
  it('gives a mirror (1 + 1) the MTTDL solved by hand: (3λ + μ) / (2λ²)', () => {
    // States 2 → 1 at 2λ; from 1, loss at λ or repair back to 2 at μ:
    //   T2 = 1/(2λ) + T1,  T1 = 1/(λ + μ) + μ/(λ + μ)·T2  ⇒  T2 = (3λ + μ) / (2λ²).
    for (const [lam, mu] of [[1, 0], [1, 50], [0.5, 182.6], [2, 1e4]] as const) {
      const c = { k: 1, n: 2, threshold: 1, failurePerYear: lam, repairPerYear: mu }
      const byHand = (3 * lam + mu) / (2 * lam * lam)
      expect(meanTimeToLossYears(c) / byHand).toBeCloseTo(1, 12)
      expect(meanTimeToLossDense(c) / byHand).toBeCloseTo(1, 12)
    }
  })

  it('agrees with the closed form and the dense solve, and keeps its digits where the dense solve cannot', () => {
    for (const [k, n, t] of [[4, 6, 5], [10, 14, 12], [20, 40, 25], [16, 24, 20]] as const) {
      const c = { k, n, threshold: t, failurePerYear: 1, repairPerYear: 8766 / 60 }
      expect(meanTimeToLossYears(c) / meanTimeToLossClosedForm(c)).toBeCloseTo(1, 10)
      expect(meanTimeToLossYears(c) / meanTimeToLossDense(c)).toBeCloseTo(1, 6)
    }
    // 29 + 51 with repair at 52 (Storj's production scheme): a loss every ~1e17 years.
    const rare = { k: 29, n: 80, threshold: 52, failurePerYear: 1, repairPerYear: 8766 / 60 }
    expect(meanTimeToLossYears(rare) / meanTimeToLossClosedForm(rare)).toBeCloseTo(1, 10)
    expect(meanTimeToLossYears(rare)).toBeGreaterThan(1e15)
  })

  it('counts a correlated event that takes more than m fragments as a loss', () => {
    // With failures and repair negligible, loss comes from correlated events only: each takes a
    // fragment with probability s, so a 1 + 1 mirror dies in an event with probability s².
    const c = { k: 1, n: 2, threshold: 1, failurePerYear: 1e-9, repairPerYear: 1e6, correlatedPerYear: 2, correlatedShare: 0.1 }
    expect(1 / meanTimeToLossYears(c)).toBeCloseTo(2 * 0.01, 6)
    expect(1 / meanTimeToLossDense(c)).toBeCloseTo(2 * 0.01, 6)
  })

  it('derives per-GiB loss from per-segment loss without rounding tiny figures to zero', () => {
    expect(lossOfMany(1e-15, 256)).toBeCloseTo(2.56e-13, 25)
    expect(nines(lossOfMany(1e-15, 256))).toBeCloseTo(12.592, 3)
  })
})
