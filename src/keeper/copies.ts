/**
 * The copies a keeper audits: every (fragment or manifest, farmer) pair it knows of a file, from
 * the verify manifest's holders, the link's manifest holders and the copies repairs placed since;
 * which of them to audit this round within the budget; and which still count.
 */
import type { VerifyManifest } from '../core/manifest.ts'
import type { CopyAudit, FileRecord } from './state.ts'

/** One copy of a fragment (`segment` ≥ 0) or of the manifest (`segment` −1) on one farmer. */
export interface KnownCopy {
  manifestId: string
  segment: number
  /** Index of the fragment in its segment (0 for a manifest copy). */
  index: number
  id: string
  peer: string
  /** The fragment's Merkle root (none for a manifest copy). */
  root?: string
  /** The fragment's length in bytes (0 for a manifest copy: any length that hashes right). */
  size: number
}

/** The key of a copy in `FileRecord.audits`. */
export const copyKey = (c: Pick<KnownCopy, 'id' | 'peer'>): string => `${c.id} ${c.peer}`

/** Every copy of the file known from its manifest, its link's holders and the copies placed since. */
export function knownCopies (manifestId: string, manifest: VerifyManifest, linkHolders: readonly string[],
  placed: ReadonlyArray<{ id: string, peer: string }>): KnownCopy[] {
  const more = new Map<string, Set<string>>()
  for (const c of placed) more.set(c.id, (more.get(c.id) ?? new Set()).add(c.peer))
  const out: KnownCopy[] = []
  manifest.segments.forEach((seg, s) => seg.fragments.forEach((id, i) => {
    for (const peer of new Set([...seg.holders[i] ?? [], ...more.get(id) ?? []])) {
      out.push({ manifestId, segment: s, index: i, id, peer, size: seg.shardLength, ...(seg.roots !== undefined ? { root: seg.roots[i]! } : {}) })
    }
  }))
  for (const peer of new Set([...linkHolders, ...more.get(manifestId) ?? []])) out.push({ manifestId, segment: -1, index: 0, id: manifestId, peer, size: 0 })
  return out
}

/** Where each farmer stands: silent since some time (within the grace period or past it). */
export interface FarmerView {
  /** Farmers that stopped answering, with when the keeper first found them silent. */
  silent: ReadonlyMap<string, number>
  now: number
  graceMs: number
  /**
   * How often a farmer gone for good (silent past the grace period) is still probed with one
   * audit, so that its copies count again if it comes back (Carbonite). Its other copies are not
   * audited at all: the budget goes to the copies that count, repaired ones included.
   * @default graceMs
   */
  goneProbeMs?: number
}

/** Whether `peer` counts as gone: silent for the whole grace period. */
export function gone (view: FarmerView, peer: string): boolean {
  const since = view.silent.get(peer)
  return since !== undefined && view.now - since >= view.graceMs
}

/**
 * Whether a copy counts: its farmer is not gone, and its last audit did not fail (a copy not
 * audited yet counts, as does one whose farmer was silent within the grace period). A copy that
 * comes back after an outage counts again as soon as an audit proves it (Carbonite).
 */
export function counts (view: FarmerView, c: KnownCopy, last: CopyAudit | undefined): boolean {
  if (gone(view, c.peer)) return false
  return last === undefined || last.verdict === 'proven' || last.verdict === 'unreachable'
}

/**
 * The copies to audit this round, at most `budget`: first one copy on each silent farmer (to see
 * whether it is back, or still gone), then the least recently audited copies (never audited first);
 * copies on silent farmers other than the probe wait for the probe's answer. A farmer silent past
 * the grace period is probed only once every `goneProbeMs`: its copies are gone and were repaired
 * elsewhere, and auditing the dead every round would spend the budget the new holders need.
 */
export function sample (copies: readonly KnownCopy[], records: ReadonlyMap<string, FileRecord>, view: FarmerView, budget: number): KnownCopy[] {
  if (budget <= 0) return []
  const lastAt = (c: KnownCopy): number => records.get(c.manifestId)?.audits[copyKey(c)]?.at ?? 0
  const probes = new Map<string, KnownCopy>()
  const probedAt = new Map<string, number>()
  const rest: KnownCopy[] = []
  for (const c of copies) {
    if (!view.silent.has(c.peer)) { rest.push(c); continue }
    probedAt.set(c.peer, Math.max(probedAt.get(c.peer) ?? 0, lastAt(c)))
    if (!probes.has(c.peer) || lastAt(c) < lastAt(probes.get(c.peer)!)) probes.set(c.peer, c)
  }
  const every = view.goneProbeMs ?? view.graceMs
  const due = [...probes.values()].filter(c => !gone(view, c.peer) || view.now - probedAt.get(c.peer)! >= every)
  rest.sort((a, b) => lastAt(a) - lastAt(b))
  return [...due, ...rest].slice(0, Math.floor(budget))
}

/** What `tally` finds of one file. */
export interface Tally {
  /** Per segment, the fragments with at least one copy that counts (what a read can use). */
  segments: number[]
  /**
   * Per segment, those of them at the positions the policy keeps on full farmers (index below
   * `onFull`): what the repair threshold is measured against. Copies at the other positions, which
   * a `mixed` policy leaves to light farmers, only ever add; they never put a repair off.
   */
  onFull: number[]
  /** Manifest copies that count. */
  manifestCopies: number
}

/** Counts the copies of a file that count (see `Tally`); `onFull` is the policy's (every position when absent). */
export function tally (manifest: VerifyManifest, copies: readonly KnownCopy[], record: FileRecord, view: FarmerView, onFull = Infinity): Tally {
  const alive = new Set<string>()
  let manifestCopies = 0
  for (const c of copies) {
    if (!counts(view, c, record.audits[copyKey(c)])) continue
    if (c.segment < 0) manifestCopies++
    else alive.add(`${c.segment}/${c.index}`)
  }
  const segments: number[] = []
  const full: number[] = []
  manifest.segments.forEach((seg, s) => {
    const living = seg.fragments.map((_, i) => i).filter(i => alive.has(`${s}/${i}`))
    segments.push(living.length)
    full.push(living.filter(i => i < onFull).length)
  })
  return { segments, onFull: full, manifestCopies }
}
