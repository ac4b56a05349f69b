import { lossOfMany, lossProbability, meanTimeToLossYears, nines } from './markov.ts'
import { HOURS_PER_MONTH, HOURS_PER_YEAR, REPAIR_MIB_PER_SECOND, type ModelParams, type ModelPolicy } from './params.ts'
import type { SimResult } from './simulator.ts'

/** The figures the model states for one policy. */
export interface PolicyFigures {
  policy: string
  k: number
  m: number
  light: number
  threshold: number
  /** (k + m + l) / k. */
  expansion: number
  /** (k + m) / k: what full farmers store. */
  expansionFull: number
  /** The Markov chain's view (full-farmer fragments only: light copies can only add to it). */
  analytic: {
    /** Mean repair time the chain uses, hours (detection + delay + transfer). */
    repairHours: number
    mttdlYears: number
    lossPerSegmentYear: number
    ninesPerSegmentYear: number
    ninesPerGiBYear: number
  }
  /** The simulator's view; absent when only the chain was asked for. */
  simulated?: {
    segmentYears: number
    losses: number
    /** Loss rate per segment-year and its 95 % interval. */
    lossPerSegmentYear: number
    lossLow: number
    lossHigh: number
    /** Nines per GiB-year from the simulated rate, or its lower bound when nothing was lost. */
    ninesPerGiBYear: number
    ninesPerGiBYearAtLeast: boolean
    unavailability: number
    repairsPerSegmentYear: number
    /** Repair traffic, GB moved per TB of data stored, per month. */
    repairGBPerTBMonth: number
  }
}

/** Segments in a GiB of data: each holds k shards. */
export function segmentsPerGiB (k: number, shardMiB: number): number {
  return 1024 / (k * shardMiB)
}

/**
 * Mean repair time as the chain sees it: a loss is noticed at the first audit after the grace
 * period (on average grace + half an audit interval), then the keeper's delay, then the transfer.
 */
export function meanRepairHours (policy: ModelPolicy, params: ModelParams): number {
  const detection = params.gracePeriodHours + params.auditIntervalHours / 2
  const transfer = (policy.k + policy.k + policy.m - policy.threshold) * params.shardMiB / REPAIR_MIB_PER_SECOND / 3600
  return detection + params.repairDelayHours + transfer
}

/** The chain's figures for a policy. */
export function analyticFigures (policy: ModelPolicy, params: ModelParams): PolicyFigures['analytic'] {
  const repairHours = meanRepairHours(policy, params)
  const n = policy.k + policy.m
  const mttdlYears = policy.m === 0
    ? 1 / (policy.k * HOURS_PER_YEAR / (params.mttfMonths * HOURS_PER_MONTH)) // any loss is fatal on full farmers alone
    : meanTimeToLossYears({
      k: policy.k,
      n,
      threshold: policy.threshold,
      failurePerYear: HOURS_PER_YEAR / (params.mttfMonths * HOURS_PER_MONTH),
      repairPerYear: HOURS_PER_YEAR / repairHours,
      correlatedPerYear: params.correlatedPerYear,
      correlatedShare: params.correlatedShare
    })
  const p = lossProbability(mttdlYears)
  return {
    repairHours,
    mttdlYears,
    lossPerSegmentYear: p,
    ninesPerSegmentYear: nines(p),
    ninesPerGiBYear: nines(lossOfMany(p, segmentsPerGiB(policy.k, params.shardMiB)))
  }
}

/**
 * A 95 % interval for a Poisson count (Wilson–Hilferty approximation of the exact Garwood
 * interval; within a few per cent of it from one event up).
 */
export function poissonInterval (count: number): [number, number] {
  const z = 1.959964
  const low = count === 0 ? 0 : count * Math.pow(1 - 1 / (9 * count) - z / (3 * Math.sqrt(count)), 3)
  const c = count + 1
  const high = c * Math.pow(1 - 1 / (9 * c) + z / (3 * Math.sqrt(c)), 3)
  return [low, high]
}

/** The simulator's figures for a policy. */
export function simulatedFigures (policy: ModelPolicy, params: ModelParams, r: SimResult): NonNullable<PolicyFigures['simulated']> {
  const [low, high] = poissonInterval(r.losses)
  const rate = r.losses / r.segmentYears
  const months = r.segmentYears * HOURS_PER_YEAR / HOURS_PER_MONTH / (r.storedMiB / (policy.k * params.shardMiB))
  const atLeast = r.losses === 0
  const perSegment = atLeast ? high / r.segmentYears : rate
  return {
    segmentYears: r.segmentYears,
    losses: r.losses,
    lossPerSegmentYear: rate,
    lossLow: low / r.segmentYears,
    lossHigh: high / r.segmentYears,
    ninesPerGiBYear: nines(lossOfMany(lossProbability(1 / perSegment), segmentsPerGiB(policy.k, params.shardMiB))),
    ninesPerGiBYearAtLeast: atLeast,
    unavailability: r.unavailability,
    repairsPerSegmentYear: r.repairs / r.segmentYears,
    // MiB per MiB is GB per GB; × 1000 gives GB per TB.
    repairGBPerTBMonth: r.repairTrafficMiB / r.storedMiB / months * 1000
  }
}

/** Both views of a policy (the chain's only, without a simulation result). */
export function policyFigures (policy: ModelPolicy, params: ModelParams, sim?: SimResult): PolicyFigures {
  return {
    policy: policy.name,
    k: policy.k,
    m: policy.m,
    light: policy.light,
    threshold: policy.threshold,
    expansion: (policy.k + policy.m + policy.light) / policy.k,
    expansionFull: (policy.k + policy.m) / policy.k,
    analytic: analyticFigures(policy, params),
    ...(sim === undefined ? {} : { simulated: simulatedFigures(policy, params, sim) })
  }
}
