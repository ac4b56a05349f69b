/**
 * Counters of a keeper and their Prometheus text rendering (served on `/metrics` by
 * `shardfarm keeper --http`). Synchronous and cheap: a scrape never waits on a round.
 */
import { PrometheusText } from '../core/prometheus.ts'

/** Segment health as the keeper last saw it (see `segmentStatus`). */
export type SegmentState = 'healthy' | 'degraded' | 'at-risk' | 'lost'

/** A plain copy of every figure, for logs and tests. */
export interface KeeperMetricsSnapshot {
  /** Files kept: the owner index's and the kept links, as of the last round. */
  files: number
  /** Files whose manifest could not be opened in the last round. */
  unopened: number
  /** Segments by health, as of the last round. */
  segments: Record<SegmentState, number>
  /** Audits by verdict (`proven`, `failed`, `missing`, `unreachable`). */
  audits: Record<string, number>
  /** Rounds completed. */
  rounds: number
  /** Repairs run (one per file), and those that left some segment short or lost. */
  repairs: number
  repairsIncomplete: number
  /** Fragments rebuilt and stored, and manifest copies added. */
  fragmentsRepaired: number
  manifestCopiesRepaired: number
  /** Bytes repairs fetched (`in`) and stored (`out`). */
  repairBytes: { in: number, out: number }
  /** Claims renewed, and those a farmer no longer held. */
  renewed: number
  notRenewed: number
  /** Farmers silent now, and those counted as gone (silent past the grace period). */
  silentFarmers: number
  goneFarmers: number
}

const zeroSegments = (): Record<SegmentState, number> => ({ healthy: 0, degraded: 0, 'at-risk': 0, lost: 0 })

/** The counters of one keeper. */
export class KeeperMetrics {
  #s: KeeperMetricsSnapshot = {
    files: 0, unopened: 0, segments: zeroSegments(), audits: { proven: 0, failed: 0, missing: 0, unreachable: 0 }, rounds: 0,
    repairs: 0, repairsIncomplete: 0, fragmentsRepaired: 0, manifestCopiesRepaired: 0, repairBytes: { in: 0, out: 0 },
    renewed: 0, notRenewed: 0, silentFarmers: 0, goneFarmers: 0
  }

  /** One audit's verdict. */
  audit (verdict: string): void { this.#s.audits[verdict] = (this.#s.audits[verdict] ?? 0) + 1 }
  /** Bytes a repair moved. */
  repairBytes (direction: 'in' | 'out', n: number): void { this.#s.repairBytes[direction] += n }
  /** A repair ended. */
  repaired (r: { fragmentsStored: number, manifestCopiesStored: number, complete: boolean }): void {
    this.#s.repairs++
    if (!r.complete) this.#s.repairsIncomplete++
    this.#s.fragmentsRepaired += r.fragmentsStored
    this.#s.manifestCopiesRepaired += r.manifestCopiesStored
  }
  /** A renewal ended. */
  renewals (renewed: number, notRenewed: number): void { this.#s.renewed += renewed; this.#s.notRenewed += notRenewed }
  /** A round ended with this view of the files and farmers. */
  round (view: { files: number, unopened: number, segments: SegmentState[], silent: number, gone: number }): void {
    const segments = zeroSegments()
    for (const s of view.segments) segments[s]++
    Object.assign(this.#s, { files: view.files, unopened: view.unopened, segments, silentFarmers: view.silent, goneFarmers: view.gone })
    this.#s.rounds++
  }

  snapshot (): KeeperMetricsSnapshot {
    return structuredClone(this.#s)
  }

  /** Prometheus text exposition format (version 0.0.4). */
  render (): string {
    const s = this.#s
    const out = new PrometheusText()
    const metric = out.metric
    metric('shardfarm_keeper_files', 'gauge', 'Files kept (owner index and kept links).', [['', s.files]])
    metric('shardfarm_keeper_files_unopened', 'gauge', 'Files whose manifest could not be opened in the last round.', [['', s.unopened]])
    metric('shardfarm_keeper_segments', 'gauge', 'Segments by health in the last round.',
      Object.entries(s.segments).map(([k, v]) => [`{health="${k}"}`, v]))
    metric('shardfarm_keeper_audits_total', 'counter', 'Audits of copies by verdict.',
      Object.entries(s.audits).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [`{verdict="${k}"}`, v]))
    metric('shardfarm_keeper_rounds_total', 'counter', 'Rounds completed.', [['', s.rounds]])
    metric('shardfarm_keeper_repairs_total', 'counter', 'File repairs run, by outcome.',
      [['{outcome="complete"}', s.repairs - s.repairsIncomplete], ['{outcome="incomplete"}', s.repairsIncomplete]])
    metric('shardfarm_keeper_fragments_repaired_total', 'counter', 'Fragments rebuilt and stored on new farmers.', [['', s.fragmentsRepaired]])
    metric('shardfarm_keeper_manifest_copies_repaired_total', 'counter', 'Manifest copies added.', [['', s.manifestCopiesRepaired]])
    metric('shardfarm_keeper_repair_bytes_total', 'counter', 'Bytes moved by repairs.',
      [['{direction="in"}', s.repairBytes.in], ['{direction="out"}', s.repairBytes.out]])
    metric('shardfarm_keeper_claims_renewed_total', 'counter', 'Lease renewals, by result.',
      [['{result="renewed"}', s.renewed], ['{result="not-held"}', s.notRenewed]])
    metric('shardfarm_keeper_farmers_silent', 'gauge', 'Farmers that stopped answering, by whether the grace period is over.',
      [['{state="in-grace"}', s.silentFarmers - s.goneFarmers], ['{state="gone"}', s.goneFarmers]])
    return out.toString()
  }
}
