/**
 * When the keeper repairs: lazily, at the durability model's threshold, not on every outage. Pure.
 *
 * A segment is repaired when the copies that still count fall to its policy's `repairAt` (the
 * presets state theirs: `live` and `mixed` 6 + 12 at 16, `archive` 32 + 32 at 56; see
 * docs/durability.md). A policy without one, as every manifest written before 0.3.0, repairs at
 * `repairThreshold(k, m)` (`defaultThreshold`): once half of the parity, rounded up, is gone, i.e.
 * at k + m − ceil(m / 2) (the earlier `live` 4 + 2 and `mixed` 4 + 3 at 5, `archive` 10 + 4 at 12).
 * With m ≥ 3 the first loss of a segment never starts a repair (repairing on any loss, as Tahoe and
 * zstor do, thrashes when farmers come and go) and the segment is repaired while one more loss still
 * leaves it readable. With m = 2 no threshold above k waits for a second loss: the keeper keeps the
 * margin and repairs at k + 1, and what keeps farmer restarts and short outages from causing repairs
 * there is the grace period (a copy counts until its farmer has been silent for `--grace`, or failed
 * an audit).
 */
import { defaultThreshold } from '../core/durability/params.ts'

/** A segment (or a manifest) needs repair when this many copies or fewer still count. */
export function repairThreshold (k: number, m: number): number {
  return defaultThreshold(k, m)
}

/**
 * A manifest (wanted on `want` farmers, any one copy enough) needs repair when this many copies or
 * fewer still count: the same rule with k = 1 and m = want − 1.
 */
export function manifestThreshold (want: number): number {
  return repairThreshold(1, Math.max(1, want - 1))
}

/** What the keeper knows of one file's health at the end of an audit pass. */
export interface FileVerdict {
  manifestId: string
  k: number
  m: number
  /** The policy's `repairAt` (manifests carry it, normalised). @default repairThreshold(k, m) */
  repairAt?: number
  /** Copies that count, per segment (fragments with at least one copy that counts). */
  segments: number[]
  /**
   * Of them, those at the positions the policy keeps on full farmers: what `repairAt` is measured
   * against. Absent: every position (a policy without light farmers).
   */
  onFull?: number[]
  /** Manifest copies that count, and how many the file should have. */
  manifestCopies: number
  manifestWant: number
}

/** A file's worst segment's distance above k (negative: lost); Infinity without segments. */
export function margin (v: FileVerdict): number {
  return v.segments.reduce((min, n) => Math.min(min, n - v.k), Infinity)
}

/** Whether the manifest of `v` has fallen to its threshold. */
export function manifestAtRisk (v: FileVerdict): boolean {
  return v.manifestCopies <= manifestThreshold(v.manifestWant)
}

/**
 * Per readable segment, the copies the threshold is measured against: those on full farmers' positions
 * (light farmers' copies of a `mixed` file only add, and never put a repair off); Infinity for a
 * segment that can no longer be read, which no repair can bring back.
 */
function weighed (v: FileVerdict): number[] {
  return v.segments.map((n, s) => n >= v.k ? (v.onFull ?? v.segments)[s]! : Infinity)
}

/** Whether `v` needs a repair: its manifest, or some readable segment at or under its threshold. */
export function needsRepair (v: FileVerdict): boolean {
  const t = v.repairAt ?? repairThreshold(v.k, v.m)
  return manifestAtRisk(v) || weighed(v).some(n => n <= t)
}

/**
 * The files to repair, most urgent first: manifests at risk first (without a manifest no segment
 * can be read or repaired), then by how close their worst readable segment is to loss.
 */
export function repairOrder (verdicts: readonly FileVerdict[]): FileVerdict[] {
  const urgency = (v: FileVerdict): number => Math.min(...weighed(v).map(n => n - v.k))
  return verdicts.filter(needsRepair).sort((a, b) =>
    Number(manifestAtRisk(b)) - Number(manifestAtRisk(a)) || urgency(a) - urgency(b) || (a.manifestId < b.manifestId ? -1 : 1))
}

/** A segment's health as `check` names it: all k + m, more than k, exactly k, fewer. */
export function segmentStatus (n: number, k: number, m: number): 'healthy' | 'degraded' | 'at-risk' | 'lost' {
  return n >= k + m ? 'healthy' : n > k ? 'degraded' : n === k ? 'at-risk' : 'lost'
}
