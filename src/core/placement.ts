import { ShardfarmError } from './errors.ts'
import type { FarmerKind, StoragePolicy, Tier } from './policy.ts'

/** A farmer as the directory describes it. */
export interface FarmerInfo {
  /** libp2p peer id (string form). */
  peerId: string
  region: string
  tier: Tier
  kind: FarmerKind
  /** Bytes it will still accept. */
  free: number
}

/** Where each fragment of each segment goes: `segments[s][f]` is a peer id. */
export interface Placement {
  segments: string[][]
  /** Eligible farmers not used for a segment, best first: where a fragment goes when its farmer fails. */
  spares: string[][]
}

/** The grid cannot satisfy the policy; `reason` says why in words a person can act on. */
export class PlacementError extends ShardfarmError {
  constructor (reason: string, details: Record<string, unknown> = {}) {
    super('PlacementError', 'POLICY_UNSATISFIABLE', `Cannot place the file: ${reason}`, { reason, ...details })
  }
}

export interface PlaceOptions {
  /** Bytes of one fragment (farmers with less free space are skipped). */
  fragmentSize: number
  /** Number of segments to place. */
  segments: number
  /** Peer ids never to use (failed farmers). @default none */
  exclude?: Iterable<string>
}

/**
 * Chooses k + m distinct farmers for each segment. Pure and deterministic: the same farmers and
 * policy give the same placement. Segments rotate over the eligible farmers, so a file's load
 * spreads over the whole grid instead of always hitting the emptiest few.
 *
 * Throws `PlacementError` naming the unmet rule: too few eligible farmers, too few regions, or (for
 * mixed policies) too few full farmers to hold k fragments.
 */
/**
 * Whether `policy` lets farmer `f` hold fragments of a file at all: its region, its tier, and its
 * kind (light farmers only with `mixed`, and then only parity; see `place`).
 */
export function admits (policy: Required<StoragePolicy>, f: FarmerInfo): boolean {
  return (policy.regions.length === 0 || policy.regions.includes(f.region)) && policy.tiers.includes(f.tier) &&
    (f.kind === 'full' || policy.kinds === 'mixed')
}

export function place (policy: Required<StoragePolicy>, farmers: FarmerInfo[], options: PlaceOptions): Placement {
  const n = policy.k + policy.m
  const excluded = new Set(options.exclude ?? [])
  const seen = new Set<string>()
  const eligible = farmers.filter(f => {
    if (seen.has(f.peerId)) return false
    seen.add(f.peerId)
    return !excluded.has(f.peerId) && admits(policy, f) && f.free >= options.fragmentSize
  })
  // Most free space first; peer id breaks ties so the order is total and placement deterministic.
  eligible.sort((a, b) => b.free - a.free || (a.peerId < b.peerId ? -1 : 1))

  const where = policy.regions.length > 0 ? ` in ${policy.regions.join(', ')}` : ''
  const tiers = policy.tiers.join(' or ')
  if (eligible.length < n) {
    throw new PlacementError(`policy "${policy.name}" needs ${n} farmers (${policy.k} + ${policy.m}), ` +
      `the grid has ${eligible.length} eligible (${tiers} tier${where}, ${policy.kinds === 'full' ? 'full farmers' : 'full or light'}, ` +
      `with ${options.fragmentSize} bytes free)`, { needed: n, eligible: eligible.length })
  }
  const regions = new Set(eligible.map(f => f.region))
  if (regions.size < policy.minRegions) {
    throw new PlacementError(`policy "${policy.name}" needs ${policy.minRegions} regions, the grid has ${regions.size}` +
      (regions.size > 0 ? ` (${[...regions].sort().join(', ')})` : ''), { neededRegions: policy.minRegions, regions: regions.size })
  }
  const full = eligible.filter(f => f.kind === 'full')
  if (full.length < policy.k) {
    throw new PlacementError(`policy "${policy.name}" keeps ${policy.k} fragments of every segment on full farmers, ` +
      `the grid has ${full.length} eligible full farmers`, { neededFull: policy.k, full: full.length })
  }

  const segments: string[][] = []
  const spares: string[][] = []
  for (let s = 0; s < options.segments; s++) {
    const rotated = rotate(eligible, (s * n) % eligible.length)
    const chosen = pickSegment(rotated, policy)
    const got = new Set(chosen.map(id => eligible.find(f => f.peerId === id)?.region)).size
    if (got < policy.minRegions) {
      throw new PlacementError(`policy "${policy.name}" needs ${policy.minRegions} regions per segment, ` +
        `only ${got} can be combined with ${policy.k} full farmers`, { neededRegions: policy.minRegions, regions: got })
    }
    const used = new Set(chosen)
    segments.push(chosen)
    spares.push(rotated.filter(f => !used.has(f.peerId)).map(f => f.peerId))
  }
  return { segments, spares }
}

function rotate<T> (xs: T[], by: number): T[] {
  return [...xs.slice(by), ...xs.slice(0, by)]
}

/**
 * Greedy choice for one segment: first one farmer from each of `minRegions` regions, then k full
 * farmers in total, then the rest in order. Light farmers, being last in line for data, end up
 * holding parity positions only (the first k positions are data fragments).
 */
function pickSegment (order: FarmerInfo[], policy: Required<StoragePolicy>): string[] {
  const n = policy.k + policy.m
  const chosen: FarmerInfo[] = []
  const has = (f: FarmerInfo): boolean => chosen.includes(f)
  const regions = new Set<string>()
  for (const f of order) {
    if (regions.size >= policy.minRegions) break
    // A light farmer may take a region's slot only if k full farmers still fit after it.
    if (!regions.has(f.region) && (f.kind === 'full' || chosen.length + 1 + remainingFullNeeded(policy, chosen) <= n)) {
      regions.add(f.region)
      chosen.push(f)
    }
  }
  for (const f of order) {
    if (countFull(chosen) >= policy.k) break
    if (!has(f) && f.kind === 'full') chosen.push(f)
  }
  for (const f of order) {
    if (chosen.length >= n) break
    if (!has(f)) chosen.push(f)
  }
  // Data positions (0..k-1) go to full farmers first.
  chosen.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'full' ? -1 : 1))
  return chosen.slice(0, n).map(f => f.peerId)
}

function countFull (xs: FarmerInfo[]): number {
  return xs.filter(f => f.kind === 'full').length
}

function remainingFullNeeded (policy: Required<StoragePolicy>, chosen: FarmerInfo[]): number {
  return Math.max(0, policy.k - countFull(chosen))
}
