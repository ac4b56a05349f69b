import { ShardfarmError } from '../errors.ts'
import { defaultThreshold, normalizePolicy, POLICIES, type StoragePolicy } from '../policy.ts'

export { defaultThreshold }

/** Hours in a (Julian) year: the model keeps time in hours. */
export const HOURS_PER_YEAR = 8766
/** Hours in a twelfth of that year. */
export const HOURS_PER_MONTH = HOURS_PER_YEAR / 12

/**
 * Repair speed measured on the real code: `shardfarm repair` of a 1 GiB file stored `archive`
 * (10 + 4, 1 MiB shards, so 103 segments) after one of its 14 farmers was lost rebuilt the 103
 * missing fragments in 17–21 s on the project's 2-core machine, over loopback. Each rebuilt
 * fragment fetched k = 10 fragments and uploaded one, so the keeper moved 103 × 11 MiB in about
 * 19 s: some 60 MiB of fragment traffic a second. The model charges a repair that transfer time
 * (it is small beside detection, which dominates) and counts its bytes as repair traffic.
 */
export const REPAIR_CALIBRATION = { fragments: 103, seconds: 19, fetchedPerFragment: 10, shardMiB: 1 } as const

/** Fragment traffic a repair moves per second, in MiB, from {@link REPAIR_CALIBRATION}. */
export const REPAIR_MIB_PER_SECOND =
  REPAIR_CALIBRATION.fragments * (REPAIR_CALIBRATION.fetchedPerFragment + 1) * REPAIR_CALIBRATION.shardMiB / REPAIR_CALIBRATION.seconds

/** A bad parameter of the durability model, or a policy it cannot read. */
export class DurabilityModelError extends ShardfarmError {
  constructor (reason: string) {
    super('DurabilityModelError', 'INVALID_MODEL_PARAMS', `Invalid durability model parameter: ${reason}`, { reason })
  }
}

/** A redundancy arrangement as the model sees it. */
export interface ModelPolicy {
  /** Shown in tables: a preset name or `k+m[+l]`. */
  name: string
  /** Data fragments: any k rebuild a segment. */
  k: number
  /** Parity fragments on full farmers (k + m fragments live on full farmers). */
  m: number
  /** Extra fragments on light farmers (browsers), beyond the k + m on full ones. @default 0 */
  light: number
  /**
   * The keeper repairs a segment when its proven fragments on full farmers fall to this many (k ≤
   * threshold < k + m). Light fragments are refreshed with it, or when half of them are gone.
   */
  threshold: number
}

/** Everything the simulator and the chain take. Times in hours unless the name says otherwise. */
export interface ModelParams {
  /** Mean lifetime of a full farmer, in months. @default 12 */
  mttfMonths: number
  /** Weibull shape of full-farmer lifetimes: 1 is memoryless, below 1 infant mortality. @default 1 */
  weibullShape: number
  /** Transient outages per full farmer per year (it comes back with its data). @default 12 */
  outagesPerYear: number
  /** Mean outage length. @default 4 */
  outageMeanHours: number
  /** `exponential` outage lengths around the mean, or all `fixed` at it. @default 'exponential' */
  outageDistribution: 'exponential' | 'fixed'
  /** Fraction of the day a light farmer is online. @default 0.3 */
  lightOnlineFraction: number
  /** Mean membership of a light farmer before it leaves for good, in weeks. @default 6 */
  lightMembershipWeeks: number
  /** Correlated events (a region or an operator failing at once) per year. @default 0.2 */
  correlatedPerYear: number
  /** Share of full farmers one correlated event takes for good. @default 0.05 */
  correlatedShare: number
  /** Each farmer is audited this often; 0 means losses are noticed at once. @default 24 */
  auditIntervalHours: number
  /** A farmer is treated as gone only after failing audits for this long. @default 24 */
  gracePeriodHours: number
  /** From a segment falling to its threshold to the keeper starting its repair. @default 24 */
  repairDelayHours: number
  /** `fixed` repair delay, or `exponential` around it (what the Markov chain assumes). @default 'fixed' */
  repairDelayDistribution: 'fixed' | 'exponential'
  /** Shard size, MiB: a segment holds k of them. @default 1 */
  shardMiB: number
}

/** The defaults, as documented on {@link ModelParams}. */
export const DEFAULT_PARAMS: Readonly<ModelParams> = {
  mttfMonths: 12,
  weibullShape: 1,
  outagesPerYear: 12,
  outageMeanHours: 4,
  outageDistribution: 'exponential',
  lightOnlineFraction: 0.3,
  lightMembershipWeeks: 6,
  correlatedPerYear: 0.2,
  correlatedShare: 0.05,
  auditIntervalHours: 24,
  gracePeriodHours: 24,
  repairDelayHours: 24,
  repairDelayDistribution: 'fixed',
  shardMiB: 1
}

/** Checks every parameter and fills the defaults. */
export function normalizeParams (p: Partial<ModelParams> = {}): ModelParams {
  const out = { ...DEFAULT_PARAMS, ...p }
  const positive = (name: keyof ModelParams): void => {
    const v = out[name]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new DurabilityModelError(`${name} must be a positive number, got ${String(v)}`)
  }
  const nonNegative = (name: keyof ModelParams): void => {
    const v = out[name]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new DurabilityModelError(`${name} must be a number ≥ 0, got ${String(v)}`)
  }
  for (const n of ['mttfMonths', 'weibullShape', 'outageMeanHours', 'lightMembershipWeeks', 'shardMiB'] as const) positive(n)
  for (const n of ['outagesPerYear', 'correlatedPerYear', 'auditIntervalHours', 'gracePeriodHours', 'repairDelayHours'] as const) nonNegative(n)
  if (!(out.lightOnlineFraction > 0 && out.lightOnlineFraction <= 1)) throw new DurabilityModelError('lightOnlineFraction must be in (0, 1]')
  if (!(out.correlatedShare >= 0 && out.correlatedShare < 1)) throw new DurabilityModelError('correlatedShare must be in [0, 1)')
  if (out.outageDistribution !== 'exponential' && out.outageDistribution !== 'fixed') throw new DurabilityModelError('outageDistribution must be exponential or fixed')
  if (out.repairDelayDistribution !== 'exponential' && out.repairDelayDistribution !== 'fixed') throw new DurabilityModelError('repairDelayDistribution must be exponential or fixed')
  return out
}

/**
 * The model's view of a storage policy: its `onFull` fragments on full farmers (k of them data, the
 * rest the model's parity m), the positions beyond on light farmers (where placement may put them),
 * and the keeper's `repairAt` as the threshold.
 */
export function modelOf (policy: StoragePolicy): ModelPolicy {
  const p = normalizePolicy(policy)
  const onFull = p.kinds === 'mixed' ? p.onFull : p.k + p.m
  const m = onFull - p.k
  const threshold = m === 0 ? p.k : Math.min(p.repairAt, onFull - 1)
  return { name: p.name, k: p.k, m, light: p.k + p.m - onFull, threshold }
}

/** The model's view of the presets in `POLICIES`, which it follows. */
export const PRESET_MODELS: Readonly<Record<'live' | 'archive' | 'mixed', ModelPolicy>> = {
  live: modelOf(POLICIES.live),
  archive: modelOf(POLICIES.archive),
  mixed: modelOf(POLICIES.mixed)
}

const SPEC = /^(\d{1,3})\+(\d{1,3})(?:\+(\d{1,3}))?(?:@(\d{1,3}))?$/

/**
 * Reads a policy: a preset name, or `k+m`, `k+m+l` (l more on light farmers), each optionally
 * `@t` for the repair threshold. `threshold` (a margin above k) applies where `@t` is not given.
 */
export function parseModelPolicy (spec: string, thresholdMargin?: number): ModelPolicy {
  const preset = PRESET_MODELS[spec as keyof typeof PRESET_MODELS]
  let policy: ModelPolicy
  if (preset !== undefined) {
    policy = { ...preset }
    if (thresholdMargin !== undefined && policy.m > 0) policy.threshold = policy.k + thresholdMargin
  } else {
    const match = SPEC.exec(spec)
    if (match === null) throw new DurabilityModelError(`policy "${spec.slice(0, 40)}": use live, archive, mixed, k+m, k+m+l or any of them with @threshold`)
    const k = Number(match[1])
    const m = Number(match[2])
    const light = match[3] === undefined ? 0 : Number(match[3])
    const threshold = match[4] !== undefined ? Number(match[4]) : thresholdMargin !== undefined ? k + thresholdMargin : defaultThreshold(k, m)
    policy = { name: spec, k, m, light, threshold }
  }
  return checkPolicy(policy)
}

/** Checks a policy's numbers. */
export function checkPolicy (p: ModelPolicy): ModelPolicy {
  const { k, m, light, threshold } = p
  if (!Number.isInteger(k) || k < 1) throw new DurabilityModelError(`${p.name}: k must be an integer ≥ 1`)
  if (!Number.isInteger(m) || m < 0 || !Number.isInteger(light) || light < 0) throw new DurabilityModelError(`${p.name}: m and l must be integers ≥ 0`)
  if (m + light < 1) throw new DurabilityModelError(`${p.name}: needs at least one parity fragment`)
  if (k + m + light > 256) throw new DurabilityModelError(`${p.name}: k + m + l must be at most 256`)
  const top = m === 0 ? k : k + m - 1
  if (!Number.isInteger(threshold) || threshold < k || threshold > top) throw new DurabilityModelError(`${p.name}: threshold must be an integer in [${k}, ${top}], got ${threshold}`)
  return p
}
