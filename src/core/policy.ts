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
   * `full`: only full farmers. `mixed`: light farmers may hold fragments too, but at least k of
   * every segment stay on full farmers, so light farmers only ever add redundancy. @default 'full'
   */
  kinds?: 'full' | 'mixed'
}

/** The named presets. */
export const POLICIES: Readonly<Record<'live' | 'archive' | 'mixed', StoragePolicy>> = {
  // 4 + 2: 1.5× overhead, 6 farmers, each read needs only 4 answers: low latency.
  live: { name: 'live', k: 4, m: 2, tiers: ['live'], minRegions: 1, kinds: 'full' },
  // 10 + 4: 1.4× overhead, survives any 4 farmers lost, spread over 3 regions for governance.
  archive: { name: 'archive', k: 10, m: 4, minRegions: 3, kinds: 'full' },
  // 4 + 3 where browsers lending storage may hold parity: k stay on full farmers, so light farmers
  // going away (closed tabs) never costs more than the extra redundancy they added.
  mixed: { name: 'mixed', k: 4, m: 3, minRegions: 1, kinds: 'mixed' }
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
  return { name, k, m, regions, minRegions, tiers: tiers as Tier[], kinds }
}
