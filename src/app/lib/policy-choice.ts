/**
 * The storage policies the app offers, in plain words, and whether the grid the page sees can keep
 * each one right now: a dry run of `place` over the directory's farmers (one segment of 1 MiB
 * fragments), so that a policy this grid cannot keep is said before a file is dropped, with why.
 */
import { place } from '../../core/placement.ts'
import type { FarmerInfo } from '../../core/placement.ts'
import { normalizePolicy, POLICIES } from '../../core/policy.ts'

/** The policies the app offers, in the order it shows them. */
export const OFFERED = ['live', 'archive', 'mixed'] as const
export type OfferedPolicy = typeof OFFERED[number]

/** One policy as the Upload view shows it. */
export interface PolicyChoice {
  name: OfferedPolicy
  /** "Live", "Archive", "Mixed". */
  title: string
  /** "6 + 12"; a mixed policy adds its light positions: "6 + 12 + 4". */
  shape: string
  /** What it means, in plain words: how many failures it survives and where fragments go. */
  meaning: string
  /** Whether the farmers the page sees right now can keep it. */
  possible: boolean
  /** Why not, in plain words (only when not possible). */
  reason?: string
}

/** Fragment size of the dry run: the smallest a real upload asks farmers to have free. */
const PROBE_FRAGMENT = 1024 * 1024

const TITLES: Record<OfferedPolicy, string> = { live: 'Live', archive: 'Archive', mixed: 'Mixed' }

/**
 * What `name` means, from its numbers (so the words cannot drift from the policy): the failures
 * its full farmers survive on their own, since copies in browsers only ever add to them.
 */
export function meaningOf (name: OfferedPolicy): string {
  const p = normalizePolicy(POLICIES[name])
  const light = p.kinds === 'mixed' ? p.k + p.m - p.onFull : 0
  const parts = [`Survives any ${p.onFull - p.k} of ${p.onFull} ${light > 0 ? 'full farmers' : 'farmers'} failing`]
  if (p.minRegions > 1) parts.push(`spread over ${p.minRegions} regions`)
  if (light > 0) parts.push(`browsers lending storage may hold ${light} more fragment${light === 1 ? '' : 's'}`)
  else if (p.tiers.length === 1 && p.tiers[0] === 'live') parts.push('fast to read back')
  return parts.join('; ')
}

/** "k + m", or "k + m + l" for a policy with l positions beyond its full farmers. */
function shapeOf (p: ReturnType<typeof normalizePolicy>): string {
  const light = p.kinds === 'mixed' ? p.k + p.m - p.onFull : 0
  return light > 0 ? `${p.k} + ${p.onFull - p.k} + ${light}` : `${p.k} + ${p.m}`
}

/** Turns a placement failure's details into a sentence a person can act on. */
function reasonOf (err: unknown): string {
  const e = err as { name?: string, message?: string, details?: Record<string, unknown> }
  const d = e.details ?? {}
  if (typeof d.needed === 'number' && typeof d.eligible === 'number') return `needs ${d.needed} farmers, this grid has ${d.eligible} that fit`
  if (typeof d.neededRegions === 'number' && typeof d.regions === 'number') return `needs farmers in ${d.neededRegions} regions, this grid has ${d.regions}`
  if (typeof d.neededFull === 'number' && typeof d.full === 'number') return `needs ${d.neededFull} full farmers, this grid has ${d.full}`
  if (typeof d.reason === 'string') return d.reason
  return e.message ?? String(err)
}

/**
 * Every offered policy, with whether `farmers` can keep it. `sharedSubnets`: the relay said its
 * farmers share a subnet on purpose (a single-host grid). An empty list (not connected yet) makes
 * every policy "not possible" with the reason "no farmers in reach".
 */
export function policyChoices (farmers: FarmerInfo[], sharedSubnets = false, now = Date.now()): PolicyChoice[] {
  return OFFERED.map(name => {
    const p = normalizePolicy(POLICIES[name])
    const choice: PolicyChoice = { name, title: TITLES[name], shape: shapeOf(p), meaning: meaningOf(name), possible: true }
    if (farmers.length === 0) return { ...choice, possible: false, reason: 'no farmers in reach yet' }
    try {
      place(p, farmers, { fragmentSize: PROBE_FRAGMENT, segments: 1, now, random: () => 0.5, ...(sharedSubnets ? { sharedSubnets } : {}) })
      return choice
    } catch (err) {
      if ((err as { name?: string }).name !== 'PlacementError') throw err
      return { ...choice, possible: false, reason: reasonOf(err) }
    }
  })
}
