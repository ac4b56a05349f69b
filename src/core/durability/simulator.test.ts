import { describe, expect, it } from 'vitest'
import { meanRepairHours, poissonInterval } from './figures.ts'
import { meanTimeToLossYears } from './markov.ts'
import { HOURS_PER_YEAR, normalizeParams, type ModelPolicy } from './params.ts'
import { simulate } from './simulator.ts'

const noChurn = { mttfMonths: 1e9, outagesPerYear: 0, correlatedPerYear: 0 }

describe('the durability simulator', () => {
  // Inflated rates (farmers live a year, repairs take a month on average) so that Monte Carlo sees
  // about a thousand losses; the simulator is set to what the chain assumes: memoryless lifetimes
  // and repair delays, losses noticed at once, independent failures.
  it.each([
    { name: '4+2@5', k: 4, m: 2, light: 0, threshold: 5 },
    { name: '6+4@8', k: 6, m: 4, light: 0, threshold: 8 }
  ])('agrees with the Markov chain at inflated failure rates: $name', (policy: ModelPolicy) => {
    const params = normalizeParams({
      mttfMonths: 12, weibullShape: 1, outagesPerYear: 0, correlatedPerYear: 0,
      auditIntervalHours: 0, gracePeriodHours: 0, repairDelayHours: 30 * 24, repairDelayDistribution: 'exponential'
    })
    const r = simulate(policy, params, { fullFarmers: 2000, lightFarmers: 0, segments: 2000, years: 3, warmupYears: 1, seed: 11 })
    const chainRate = 1 / meanTimeToLossYears({
      k: policy.k, n: policy.k + policy.m, threshold: policy.threshold,
      failurePerYear: 1, repairPerYear: HOURS_PER_YEAR / meanRepairHours(policy, params)
    })
    const [low, high] = poissonInterval(r.losses)
    expect(r.losses).toBeGreaterThan(300)
    expect(chainRate).toBeGreaterThanOrEqual(low / r.segmentYears)
    expect(chainRate).toBeLessThanOrEqual(high / r.segmentYears)
  })

  it('repairs nothing after outages shorter than the grace period, and counts them as unavailability only', () => {
    const policy: ModelPolicy = { name: '4+2', k: 4, m: 2, light: 0, threshold: 5 }
    const run = (graceHours: number): ReturnType<typeof simulate> => simulate(policy, normalizeParams({
      ...noChurn, outagesPerYear: 50, outageMeanHours: 6, outageDistribution: 'fixed',
      auditIntervalHours: 4, gracePeriodHours: graceHours, repairDelayHours: 12
    }), { fullFarmers: 30, lightFarmers: 0, segments: 200, years: 1, seed: 5 })
    const patient = run(24)
    expect(patient.repairs).toBe(0)
    expect(patient.repairTrafficMiB).toBe(0)
    expect(patient.losses).toBe(0)
    expect(patient.unavailability).toBeGreaterThan(0)
    // The same outages against a grace period shorter than they last do cost repairs.
    const hasty = run(2)
    expect(hasty.repairs).toBeGreaterThan(100)
    expect(hasty.losses).toBe(0)
  })

  it('counts a copy that comes back after a long outage again, instead of repairing it', () => {
    // Outages of 30 h against a 24 h grace: the keeper marks the farmer gone. A keeper that waits
    // 3 days finds the copy back and proven, and has (almost always) nothing to rebuild; one that
    // acts within the hour rebuilds it.
    const policy: ModelPolicy = { name: '4+2', k: 4, m: 2, light: 0, threshold: 5 }
    const run = (delayHours: number): ReturnType<typeof simulate> => simulate(policy, normalizeParams({
      ...noChurn, outagesPerYear: 10, outageMeanHours: 30, outageDistribution: 'fixed',
      auditIntervalHours: 1, gracePeriodHours: 24, repairDelayHours: delayHours
    }), { fullFarmers: 30, lightFarmers: 0, segments: 100, years: 1, seed: 9 })
    const eager = run(1)
    const patient = run(72)
    expect(eager.repairs).toBeGreaterThan(1000)
    expect(patient.repairs).toBeLessThan(eager.repairs / 10)
  })

  it('gives the same figures for the same seed', () => {
    const policy: ModelPolicy = { name: '4+2+2', k: 4, m: 2, light: 2, threshold: 5 }
    const params = normalizeParams({ mttfMonths: 6 })
    const opts = { fullFarmers: 40, lightFarmers: 40, segments: 200, years: 2, seed: 3 }
    expect(simulate(policy, params, opts)).toEqual(simulate(policy, params, opts))
    expect(simulate(policy, params, { ...opts, seed: 4 })).not.toEqual(simulate(policy, params, opts))
  })
})
