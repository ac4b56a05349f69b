import { describe, expect, it } from 'vitest'
import { LAMBDA, newReputation, record, score, trusted, TRUST_THRESHOLD, weight } from './reputation.ts'
import type { Reputation } from './reputation.ts'

const run = (rep: Reputation, outcomes: boolean[]): Reputation => outcomes.reduce((r, p) => record(r, p, 1), rep)

describe('reputation', () => {
  it('a new farmer is trusted at the prior, and its first failure takes the trust away', () => {
    const fresh = newReputation()
    expect(score(fresh)).toBe(1)
    expect(trusted(fresh)).toBe(true)
    expect(trusted(record(fresh, false))).toBe(false)
  })

  it('an honest farmer survives a rare failure', () => {
    const veteran = run(newReputation(), Array<boolean>(200).fill(true))
    const once = record(veteran, false)
    expect(score(once)).toBeGreaterThan(0.95)
    expect(trusted(once)).toBe(true)
  })

  it('a farmer failing most audits drops below the threshold and gets no placement weight', () => {
    // A farmer missing 10 % of its leaves fails 81 % of 16-leaf challenges.
    const outcomes = Array.from({ length: 100 }, (_, i) => i % 5 === 0)
    const rep = run(run(newReputation(), Array<boolean>(100).fill(true)), outcomes)
    expect(score(rep)).toBeLessThan(0.3)
    expect(trusted(rep)).toBe(false)
    expect(weight(rep)).toBe(0)
  })

  it('forgets: the score settles at the recent pass rate, and a reformed farmer climbs back', () => {
    const bad = run(newReputation(), Array<boolean>(300).fill(false))
    expect(score(bad)).toBeLessThan(0.01)
    const reformed = run(bad, Array<boolean>(150).fill(true))
    expect(score(reformed)).toBeGreaterThan(TRUST_THRESHOLD)
    const half = run(newReputation(), Array.from({ length: 1000 }, (_, i) => i % 2 === 0))
    expect(score(half)).toBeCloseTo(0.5, 1)
    expect(record(newReputation(), true).alpha).toBeCloseTo(LAMBDA + 1)
  })

  it('weights trusted farmers by score, within [0, 1]', () => {
    const good = run(newReputation(), Array<boolean>(50).fill(true))
    expect(weight(good)).toBe(score(good))
    expect(weight(good)).toBeLessThanOrEqual(1)
  })
})
