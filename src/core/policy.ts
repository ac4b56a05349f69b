import { ShardfarmError } from './errors.ts'

/** Storage tier of a farmer: `live` serves reads quickly, `archive` keeps data cheaply. */
export type Tier = 'live' | 'archive'
/** `full`: a Node farmer on disk. `light`: a browser lending IndexedDB quota. */
export type FarmerKind = 'full' | 'light'

/**
 * How a file is dispersed: k data + m parity fragments per segment, and which farmers may hold
 * them. Placement never puts two fragments of one segment on the same farmer.
 */
export interface StoragePolicy {
  /** Name shown to people (`live`, `archive`, or a custom one). */
  name: string
  /** Data fragments per segment: any k rebuild it. */
  k: number
  /** Parity fragments per segment: up to m farmers may be lost. */
  m: number
  /** Regions farmers must be in (data governance). @default any region */
  regions?: string[]
  /** At least this many distinct regions among a segment's k + m farmers. @default 1 */
  minRegions?: number
  /** Tiers allowed. @default both */
  tiers?: Tier[]
  /**
   * `full`: only full farmers. `mixed`: light farmers may hold fragments too, but at least
   * `onFull` of every segment stay on full farmers, so light farmers only ever add redundancy.
   * @default 'full'
   */
  kinds?: 'full' | 'mixed'
  /**
   * The keeper repairs a segment when the fragments that still count fall to this many
   * (k ≤ repairAt < k + m): lazily, at the durability model's threshold, not on every loss.
   * @default defaultThreshold(k, m): once half of the parity, rounded up, is gone
   */
  repairAt?: number
  /**
   * Fragments of every segment that stay on full farmers (k ≤ onFull ≤ k + m); light farmers hold
   * only the positions beyond it. Only a `mixed` policy may leave any to light farmers.
   * @default k + m for `full`; k for `mixed` (what manifests written before this field meant)
   */
  onFull?: number
}

/** The default repair threshold: once half of the parity (rounded up) is gone, at most k + m − 1. */
export function defaultThreshold (k: number, m: number): number {
  return Math.min(k + m - 1, Math.max(k, k + m - Math.ceil(m / 2)))
}

/**
 * The named presets, chosen with the durability model (docs/durability.md; figures per GiB-year
 * at full-farmer MTTF 12 months, audits daily, a day's grace and a day's repair delay, 1 MiB
 * shards): `npm run sim:durability -- --policies 6+12@16,32+32@56,6+12+4@16 --analytic-only`.
 * Files stored under earlier presets keep theirs: the policy is in the manifest.
 */
export const POLICIES: Readonly<Record<'live' | 'archive' | 'mixed', StoragePolicy>> = {
  // 6 + 12, repair at 16: 8.5 nines at 3.0×, 18 farmers; a read needs any 6 answers, so the
  // slowest two thirds of the holders never hold it up.
  live: { name: 'live', k: 6, m: 12, repairAt: 16, tiers: ['live'], minRegions: 1, kinds: 'full' },
  // 32 + 32, repair at 56: 11.2 nines at 2.0×, 64 farmers over 3 regions. 40 + 40 at 67 gives 11.3
  // with 80 farmers; 32 + 32 already clears 11 and keeps the grid, a read's fan-in and a segment's
  // memory (64 MiB of fragments) smaller. Below k = 23 no 2× code reaches 11 nines here.
  archive: { name: 'archive', k: 32, m: 32, repairAt: 56, minRegions: 3, kinds: 'full' },
  // `live` complete on full farmers (6 + 12, 8.5 nines from them alone) plus 4 fragments on
  // browsers lending storage: light copies add reach for reads and never replace a full one.
  // 3.0× on full farmers, 3.67× in all; 18 full farmers and 4 more farmers of either kind.
  mixed: { name: 'mixed', k: 6, m: 16, onFull: 18, repairAt: 16, minRegions: 1, kinds: 'mixed' }
}

export class InvalidPolicyError extends ShardfarmError {
  constructor (reason: string) {
    super('InvalidPolicyError', 'INVALID_POLICY', `Invalid storage policy: ${reason}`, { reason })
  }
}

/** Checks a policy (from a preset name, a file or a person) and fills its defaults. */
export function normalizePolicy (input: unknown): Required<StoragePolicy> {
  if (typeof input === 'string') {
    const preset = POLICIES[input as keyof typeof POLICIES]
    if (preset === undefined) throw new InvalidPolicyError(`unknown preset "${input}"; use live, archive, mixed or a policy object`)
    return normalizePolicy(preset)
  }
  if (typeof input !== 'object' || input === null) throw new InvalidPolicyError('expected an object')
  const p = input as Partial<StoragePolicy>
  const int = (x: unknown, what: string, min: number): number => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min) throw new InvalidPolicyError(`${what} must be an integer ≥ ${min}`)
    return x
  }
  const k = int(p.k, 'k', 1)
  const m = int(p.m, 'm', 1)
  if (k + m > 256) throw new InvalidPolicyError(`k + m must be at most 256, got ${k + m}`)
  const minRegions = p.minRegions === undefined ? 1 : int(p.minRegions, 'minRegions', 1)
  if (minRegions > k + m) throw new InvalidPolicyError(`minRegions (${minRegions}) exceeds the ${k + m} fragments of a segment`)
  const strings = (x: unknown, what: string): string[] => {
    if (!Array.isArray(x) || x.length === 0 || !x.every(s => typeof s === 'string' && s.length > 0 && s.length <= 64)) {
      throw new InvalidPolicyError(`${what} must be a non-empty list of names`)
    }
    return [...new Set(x as string[])]
  }
  // An empty list, as normalised policies carry it, means any region.
  const regions = p.regions === undefined || (Array.isArray(p.regions) && p.regions.length === 0) ? [] : strings(p.regions, 'regions')
  if (regions.length > 0 && regions.length < minRegions) {
    throw new InvalidPolicyError(`needs ${minRegions} regions but allows only ${regions.length}`)
  }
  const tiers = p.tiers === undefined ? ['live', 'archive'] : strings(p.tiers, 'tiers')
  for (const t of tiers) if (t !== 'live' && t !== 'archive') throw new InvalidPolicyError(`unknown tier "${t}"`)
  const kinds = p.kinds ?? 'full'
  if (kinds !== 'full' && kinds !== 'mixed') throw new InvalidPolicyError(`kinds must be "full" or "mixed"`)
  const name = typeof p.name === 'string' && p.name.length > 0 ? p.name.slice(0, 64) : 'custom'
  const repairAt = p.repairAt === undefined ? defaultThreshold(k, m) : int(p.repairAt, 'repairAt', k)
  if (repairAt >= k + m) throw new InvalidPolicyError(`repairAt (${repairAt}) must be below the ${k + m} fragments of a segment`)
  const onFull = p.onFull === undefined ? (kinds === 'mixed' ? k : k + m) : int(p.onFull, 'onFull', k)
  if (onFull > k + m) throw new InvalidPolicyError(`onFull (${onFull}) exceeds the ${k + m} fragments of a segment`)
  if (kinds === 'full' && onFull !== k + m) throw new InvalidPolicyError(`onFull (${onFull}) leaves fragments to light farmers, which only a "mixed" policy allows`)
  return { name, k, m, regions, minRegions, tiers: tiers as Tier[], kinds, repairAt, onFull }
}
