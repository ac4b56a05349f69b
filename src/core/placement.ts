/**
 * Placement: which farmers hold a file's fragments and its manifest copies. Pure.
 *
 * What farmers say about themselves (free space, region, tier) only filters; it never ranks, since
 * a farmer that claims a huge quota would otherwise take every fragment. Among the farmers that
 * pass the filter, choice is random, weighted by the client's own `weight` (audit scores). Two
 * rules then keep a flood of fresh identities (a Sybil) from capturing a file:
 * - vetting: a farmer the relay has known for less than its vetting period (`vettedAt` in the
 *   future or unknown) holds at most one fragment of a segment, new farmers together hold at most
 *   one fragment of each segment (fewer than m, so they can lose nothing), and no manifest copy;
 * - subnets: at most one fragment of a segment per subnet (IPv4 /24, IPv6 /48, as the relay saw the
 *   farmer's connection) when the eligible grid spans k + m subnets; a single-host grid says so
 *   explicitly (`sharedSubnets`) and then gets fragments spread as evenly as its subnets allow.
 */
import { ShardfarmError } from './errors.ts'
import type { FarmerKind, StoragePolicy, Tier } from './policy.ts'

/** A farmer as the directory describes it. */
export interface FarmerInfo {
  /** libp2p peer id (string form). */
  peerId: string
  region: string
  tier: Tier
  kind: FarmerKind
  /** Bytes it will still accept (a filter only, never a rank). */
  free: number
  /**
   * The network the relay saw it announce from (`10.1.2.0/24`, `2001:db8:1::/48`), as the relay
   * signed it. @default unknown: a subnet of its own
   */
  subnet?: string
  /** Relay clock (ms) from which the farmer counts as vetted, as the relay signed it. @default unknown: not vetted */
  vettedAt?: number
  /**
   * The relay that listed it runs a single-host grid whose farmers share a subnet on purpose.
   * Placement relaxes its one-per-subnet rule only when every eligible farmer says so (or
   * `PlaceOptions.sharedSubnets` is set). @default false
   */
  sharedSubnets?: boolean
}

/** Where each fragment of each segment goes: `segments[s][f]` is a peer id. */
export interface Placement {
  segments: string[][]
  /**
   * Farmers not used for a segment, to try in order when a fragment's farmer fails. They keep the
   * segment's rules whichever of them are taken: vetted farmers on subnets the segment does not
   * use, and at most one unvetted farmer (last, and only when the segment has none).
   */
  spares: string[][]
  /** Every farmer the policy admitted (vetted or not): where the manifest copies are chosen. */
  eligible: string[]
  /**
   * Positions of every segment kept on full farmers (the policy's `onFull`): a fragment at one of
   * them whose farmer fails moves only to a full spare, so light farmers only ever add.
   */
  onFull: number
}

/** The grid cannot satisfy the policy; `reason` says why in words a person can act on. */
export class PlacementError extends ShardfarmError {
  constructor (reason: string, details: Record<string, unknown> = {}) {
    super('PlacementError', 'POLICY_UNSATISFIABLE', `Cannot place the file: ${reason}`, { reason, ...details })
  }
}

/** Choices every placement call shares. */
export interface ChoiceOptions {
  /** The client's trust in a farmer (audit scores); 0 excludes it. @default 1 for every farmer */
  weight?: (peerId: string) => number
  /** Uniform in [0, 1), injectable for tests. @default Math.random */
  random?: () => number
  /** The clock `vettedAt` is compared with (ms). @default Date.now() */
  now?: number
  /** Relax the one-per-subnet rule (single-host grids). @default every eligible farmer's `sharedSubnets` */
  sharedSubnets?: boolean
  /** Peer ids never to use (failed farmers). @default none */
  exclude?: Iterable<string>
}

/** Options of `place`. */
export interface PlaceOptions extends ChoiceOptions {
  /** Bytes of one fragment (farmers with less free space are skipped). */
  fragmentSize: number
  /** Number of segments to place. */
  segments: number
}

/** Fewest manifest copies a file gets when the grid has that many vetted eligible farmers. */
export const MIN_MANIFEST_COPIES = 5

/** Manifest copies for `policy`: max(5, m + 1), so losing any m holders loses nothing, and five at least. */
export function manifestCopies (policy: Pick<StoragePolicy, 'm'>): number {
  return Math.max(MIN_MANIFEST_COPIES, policy.m + 1)
}

/**
 * Whether `policy` lets farmer `f` hold fragments of a file at all: its region, its tier, and its
 * kind (light farmers only with `mixed`, and then only beyond its `onFull` positions; see `place`).
 */
export function admits (policy: Required<StoragePolicy>, f: FarmerInfo): boolean {
  return (policy.regions.length === 0 || policy.regions.includes(f.region)) && policy.tiers.includes(f.tier) &&
    (f.kind === 'full' || policy.kinds === 'mixed')
}

/** True when the relay's vetting period for `f` is over at `now`. */
export function isVetted (f: Pick<FarmerInfo, 'vettedAt'>, now: number): boolean {
  return f.vettedAt !== undefined && f.vettedAt <= now
}

/**
 * Chooses k + m distinct farmers for each segment, at random among the eligible ones (weighted by
 * `weight`), under the rules of the module note, the policy's regions and tiers, and (for mixed
 * policies) `onFull` full farmers per segment, light farmers only on the positions beyond them.
 *
 * Throws `PlacementError` naming the unmet rule: too few eligible (or vetted) farmers, too few
 * regions, too few full farmers, or too few subnets without `sharedSubnets`.
 */
export function place (policy: Required<StoragePolicy>, farmers: FarmerInfo[], options: PlaceOptions): Placement {
  const n = policy.k + policy.m
  const now = options.now ?? Date.now()
  const eligible = eligibleOf(farmers, options, f => admits(policy, f) && f.free >= options.fragmentSize)
  const vetted = eligible.filter(f => isVetted(f, now))
  const fresh = eligible.filter(f => !isVetted(f, now))
  const usable = vetted.length + Math.min(1, fresh.length)

  const where = policy.regions.length > 0 ? ` in ${policy.regions.join(', ')}` : ''
  const tiers = policy.tiers.join(' or ')
  if (usable < n) {
    const vetting = fresh.length > 1 ? `; ${fresh.length} of them are new, and new farmers together hold one fragment of a segment at most` : ''
    throw new PlacementError(`policy "${policy.name}" needs ${n} farmers (${policy.k} + ${policy.m}), ` +
      `the grid has ${eligible.length} eligible (${tiers} tier${where}, ${policy.kinds === 'full' ? 'full farmers' : 'full or light'}, ` +
      `with ${options.fragmentSize} bytes free)${vetting}`, { needed: n, eligible: eligible.length, unvetted: fresh.length })
  }
  const regions = new Set(eligible.map(f => f.region))
  if (regions.size < policy.minRegions) {
    throw new PlacementError(`policy "${policy.name}" needs ${policy.minRegions} regions, the grid has ${regions.size}` +
      (regions.size > 0 ? ` (${[...regions].sort().join(', ')})` : ''), { neededRegions: policy.minRegions, regions: regions.size })
  }
  const full = vetted.filter(f => f.kind === 'full').length + Math.min(1, fresh.filter(f => f.kind === 'full').length)
  if (full < policy.onFull) {
    throw new PlacementError(`policy "${policy.name}" keeps ${policy.onFull} fragments of every segment on full farmers, ` +
      `the grid has ${full} eligible full farmers`, { neededFull: policy.onFull, full })
  }
  const subnets = new Set(vetted.map(subnetKey))
  const spans = subnets.size + (fresh.some(f => !subnets.has(subnetKey(f))) ? 1 : 0)
  const strict = spans >= n
  if (!strict && !(options.sharedSubnets ?? eligible.every(f => f.sharedSubnets === true))) {
    const named = [...new Set(eligible.map(f => f.subnet).filter(s => s !== undefined))].sort().slice(0, 8)
    throw new PlacementError(`policy "${policy.name}" needs the ${n} fragments of a segment on ${n} different subnets (IPv4 /24, IPv6 /48), ` +
      `the grid's eligible farmers are on ${spans}` + (named.length > 0 ? ` (${named.join(', ')})` : ''), { neededSubnets: n, subnets: spans })
  }

  const random = options.random ?? Math.random
  const weight = weightOf(options)
  const rules: Rules = { now, strict, light: policy.kinds === 'mixed' ? { k: policy.onFull, n } : undefined }
  const segments: string[][] = []
  const spares: string[][] = []
  for (let s = 0; s < options.segments; s++) {
    const order = drawOrder(eligible, weight, random)
    const chosen = pickSegment(order, policy, rules)
    if (chosen.length < n) {
      throw new PlacementError(`policy "${policy.name}" needs ${n} farmers per segment; with new farmers holding one fragment ` +
        `of a segment at most${strict ? ' and one fragment per subnet' : ''}, only ${chosen.length} fit`, { needed: n, placed: chosen.length })
    }
    const got = new Set(chosen.map(f => f.region)).size
    if (got < policy.minRegions) {
      throw new PlacementError(`policy "${policy.name}" needs ${policy.minRegions} regions per segment, ` +
        `only ${got} can be combined with ${policy.onFull} full farmers`, { neededRegions: policy.minRegions, regions: got })
    }
    // Positions 0..onFull-1 (the data ones first) go to full farmers.
    chosen.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'full' ? -1 : 1))
    segments.push(chosen.map(f => f.peerId))
    spares.push(sparesOf(order, chosen, rules, MAX_SPARES_PER_FRAGMENT * n))
  }
  return { segments, spares, eligible: eligible.map(f => f.peerId), onFull: policy.onFull }
}

/** What `chooseTargets` is asked for. */
export interface TargetRequest {
  /** Farmers wanted. */
  count: number
  /** Bytes each target must have free. */
  bytes: number
  /**
   * `fragment`: rebuilt fragments of one segment (an unvetted farmer only when neither `holders`
   * nor an earlier target is one, and one per subnet unless subnets are shared). `manifest`: copies
   * of a manifest (vetted farmers only; distinct subnets first, then the rest spread evenly).
   */
  purpose: 'fragment' | 'manifest'
  /** When set, only farmers this policy admits. @default any farmer */
  policy?: Required<StoragePolicy>
  /** Only full farmers (a position below `onFull` under a mixed policy). @default false */
  fullOnly?: boolean
  /** Peer ids already holding a fragment of the segment (or a copy): never chosen, and their subnets and vetting count. */
  holders?: Iterable<string>
}

/**
 * Targets for fragments rebuilt by repair, or for manifest copies, under the rules `place` keeps:
 * weighted random, never ranked by free space. Returns at most `count` farmers, best first, and
 * fewer (never an error) when the grid has no more that fit.
 */
export function chooseTargets<F extends FarmerInfo> (farmers: F[], request: TargetRequest, options: ChoiceOptions = {}): F[] {
  const now = options.now ?? Date.now()
  const holders = new Set(request.holders ?? [])
  const { policy, fullOnly = false, bytes } = request
  const candidates = eligibleOf(farmers, options, f => !holders.has(f.peerId) && f.free >= bytes &&
    (policy === undefined || admits(policy, f)) && (!fullOnly || f.kind === 'full'))
  const order = drawOrder(candidates, weightOf(options), options.random ?? Math.random)
  const held = farmers.filter(f => holders.has(f.peerId))
  const uses = new Map<string, number>()
  for (const f of held) uses.set(subnetKey(f), (uses.get(subnetKey(f)) ?? 0) + 1)
  const shared = options.sharedSubnets ?? (candidates.length > 0 && candidates.every(f => f.sharedSubnets === true))
  let freshTaken = request.purpose === 'manifest' || held.some(f => !isVetted(f, now))
  const relax = request.purpose === 'manifest' || shared
  const out: F[] = []
  const taken = new Set<F>()
  while (out.length < request.count) {
    const [next, least] = firstLeastUsed(order, uses, f => !taken.has(f) && (isVetted(f, now) || !freshTaken))
    if (next === undefined || (least > 0 && !relax)) break
    out.push(next)
    taken.add(next)
    uses.set(subnetKey(next), least + 1)
    if (!isVetted(next, now)) freshTaken = true
  }
  return out
}

/** Spares per fragment a segment keeps: the disperser tries at most 4 others per fragment. */
const MAX_SPARES_PER_FRAGMENT = 4

interface Rules {
  now: number
  /** One fragment per subnet (else spread evenly). */
  strict: boolean
  /** Mixed policies: `onFull` (k here) full farmers of n per segment. */
  light: { k: number, n: number } | undefined
}

function weightOf (options: ChoiceOptions): (peerId: string) => number {
  const w = options.weight ?? (() => 1)
  return id => { const x = w(id); return Number.isFinite(x) && x > 0 ? x : 0 }
}

/** Farmers that pass `admit`, once each, not excluded and of positive weight, in peer id order (so input order does not matter). */
function eligibleOf<F extends FarmerInfo> (farmers: F[], options: ChoiceOptions, admit: (f: F) => boolean): F[] {
  const excluded = new Set(options.exclude ?? [])
  const weight = weightOf(options)
  const seen = new Set<string>()
  const out = farmers.filter(f => {
    if (seen.has(f.peerId)) return false
    seen.add(f.peerId)
    return !excluded.has(f.peerId) && weight(f.peerId) > 0 && admit(f)
  })
  return out.sort((a, b) => a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0)
}

/**
 * A weighted random order: each farmer draws an exponential clock of rate `weight`, earliest first.
 * Taking the first farmer of this order that passes any filter is a draw from the filtered ones in
 * proportion to their weights (the race of exponential clocks is memoryless), so the greedy walks
 * below sample without replacement, weighted, whatever their filters.
 */
function drawOrder<F extends FarmerInfo> (farmers: F[], weight: (peerId: string) => number, random: () => number): F[] {
  const keyed = farmers.map(f => ({ f, t: -Math.log(1 - random()) / weight(f.peerId) }))
  keyed.sort((a, b) => a.t - b.t)
  return keyed.map(x => x.f)
}

/**
 * The first farmer of `order` passing `filter` among those whose subnet is least used so far, and
 * that use count: a subnet already holding fragments of the segment comes only after every emptier one.
 */
function firstLeastUsed<F extends FarmerInfo> (order: F[], uses: Map<string, number>, filter: (f: F) => boolean): [F | undefined, number] {
  let best: F | undefined
  let least = Infinity
  for (const f of order) {
    if (!filter(f)) continue
    const u = uses.get(subnetKey(f)) ?? 0
    if (u < least) {
      best = f
      least = u
      if (u === 0) break
    }
  }
  return [best, least]
}

/** The subnet a farmer counts in: the relay's word, else one of its own. */
function subnetKey (f: FarmerInfo): string {
  return f.subnet ?? `?${f.peerId}`
}

/**
 * One segment: one farmer from each of `minRegions` regions, then `onFull` full farmers in all, then the
 * rest, each time the first farmer of `order` that the rules allow.
 */
function pickSegment (order: FarmerInfo[], policy: Required<StoragePolicy>, rules: Rules): FarmerInfo[] {
  const n = policy.k + policy.m
  const chosen: FarmerInfo[] = []
  const inSegment = new Set<FarmerInfo>()
  const uses = new Map<string, number>()
  const regions = new Set<string>()
  let freshTaken = false
  const fullNeeded = (): number => Math.max(0, policy.onFull - chosen.filter(f => f.kind === 'full').length)
  // A light farmer may take a slot only if `onFull` full farmers still fit after it.
  const roomFor = (f: FarmerInfo): boolean => f.kind === 'full' || chosen.length + 1 + fullNeeded() <= n
  const take = (filter: (f: FarmerInfo) => boolean): boolean => {
    const [f, least] = firstLeastUsed(order, uses, x => !inSegment.has(x) && (isVetted(x, rules.now) || !freshTaken) && filter(x))
    if (f === undefined || (rules.strict && least > 0)) return false
    chosen.push(f)
    inSegment.add(f)
    uses.set(subnetKey(f), least + 1)
    regions.add(f.region)
    if (!isVetted(f, rules.now)) freshTaken = true
    return true
  }
  while (regions.size < policy.minRegions && take(f => !regions.has(f.region) && roomFor(f)));
  while (fullNeeded() > 0 && take(f => f.kind === 'full'));
  while (chosen.length < n && take(roomFor));
  return chosen
}

/**
 * A segment's spares: vetted farmers in draw order, on subnets the segment does not use first (only
 * those, one per subnet, under the strict rule), then one unvetted farmer when the segment has none.
 */
function sparesOf (order: FarmerInfo[], chosen: FarmerInfo[], rules: Rules, max: number): string[] {
  const used = new Set(chosen.map(subnetKey))
  const inSegment = new Set(chosen)
  const rest = order.filter(f => !inSegment.has(f))
  const open: FarmerInfo[] = []
  const crowded: FarmerInfo[] = []
  for (const f of rest) {
    if (!isVetted(f, rules.now)) continue
    if (!used.has(subnetKey(f))) {
      open.push(f)
      if (rules.strict) used.add(subnetKey(f))
    } else if (!rules.strict) crowded.push(f)
  }
  const out = [...open, ...crowded].slice(0, max)
  if (chosen.every(f => isVetted(f, rules.now))) {
    const fresh = rest.find(f => !isVetted(f, rules.now) && (!rules.strict || !used.has(subnetKey(f))))
    if (fresh !== undefined) out.push(fresh)
  }
  return out.map(f => f.peerId)
}
