import { describe, expect, it } from 'vitest'
import { poissonWindowLoss } from './markov.ts'

/**
 * A published figure, reproduced: Storj Labs, "Storj: A Decentralized Cloud Storage Network
 * Framework", v3.0 (30 October 2018), §3.4 "Redundancy" (storjv3.tex in
 * github.com/storj/whitepaper). Its tables give the durability P(D | p = 10 %) of (k, n) codes
 * when a month's fragment losses are Poisson with mean λ = p·n and nothing is repaired within the
 * month: P(D) = e^−λ Σ_{i ≤ n−k} λ^i / i!. The percentages are printed to 15 decimals, computed
 * in double precision as a sum near 1, so they carry about 1e-16 of rounding: we hold ours to them
 * within 2e-16 on the probability.
 */
const PUBLISHED: Array<[k: number, n: number, percent: string]> = [
  [2, 4, '99.207366813274616'],
  [4, 8, '99.858868985411326'],
  [8, 16, '99.995462406878260'],
  [16, 32, '99.999994620652776'],
  [20, 40, '99.999999807694154'],
  [32, 64, '99.999999999990544'],
  [1, 1, '90.483741803595962'],
  [1, 2, '98.247690369357827'],
  [1, 3, '99.640050681691051'],
  [1, 10, '99.999988857452166'],
  [1, 16, '99.999999998036174'],
  [4, 6, '97.688471224736705'],
  [4, 12, '99.999514117129605'],
  [20, 30, '99.970766304935266'],
  [20, 50, '99.999999999999548'],
  [100, 150, '99.999999999973570']
]

describe('the Storj whitepaper durability tables (v3, §3.4)', () => {
  it.each(PUBLISHED)('reproduces k = %i, n = %i: P(D) = %s per cent', (k, n, percent) => {
    const published = Number(percent) / 100
    const ours = 1 - poissonWindowLoss(k, n, 0.1)
    expect(Math.abs(ours - published)).toBeLessThan(2e-16)
  })

  it('states the (20, 40) code, the one the paper compares with (10, 20), at 8.7 nines', () => {
    // "the durability of a (k=20, n=40) erasure code is better than a (k=10, n=20)".
    const loss20 = poissonWindowLoss(20, 40, 0.1)
    expect(-Math.log10(loss20)).toBeCloseTo(8.716, 3)
    expect(loss20).toBeLessThan(poissonWindowLoss(10, 20, 0.1))
  })
})
